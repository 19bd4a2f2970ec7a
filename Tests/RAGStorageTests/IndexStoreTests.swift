import Foundation
import GRDB
import RAGCore
import RAGIndex
import PostgresNIO
@testable import RAGPostgres
import RAGTesting
import Synchronization
import Testing
@testable import RAGStorage

/// What every backend of `IndexStore` must do, run on each: a SQLite file, and PostgreSQL with
/// pgvector when the run has a server (`make test` starts one).
@Suite(.onTestThreads) struct IndexStoreTests {
    /// A new, empty index on `backend` (a file in `folder`, or a database of its own).
    static func open(_ backend: TestBackend, in folder: TemporaryFolder, busyTimeout: Double = 5, at location: String? = nil) throws -> any IndexStore {
        let location = location ?? backend.newIndex(in: folder.url)
        switch backend {
        case .sqlite: return try SQLiteStore(path: location, busyTimeout: busyTimeout)
        case .postgres: return try PostgresStore(url: location, busyTimeout: busyTimeout)
        }
    }

    static func add(_ store: any IndexStore, path: String, chunks: [String], heading: String = "", vectors: [[Float]]? = nil, hash: String = "h") throws {
        try store.transaction { tx in
            let sourceID = try tx.upsertSource(path: path.split(separator: "#").first.map(String.init) ?? path, format: .text, size: 10, mtime: 1, contentHash: "s-\(hash)")
            let id = try tx.insertDocument(
                LoadedDocument(path: path, title: "T \(path)", format: .text, contentHash: hash, size: 10, sections: []), sourceID: sourceID, mtime: 1)
            for (i, text) in chunks.enumerated() {
                try tx.insertChunk(
                    ChunkDraft(ordinal: i, text: text, start: i * 10, end: i * 10 + text.utf8.count, tokenCount: 2, heading: heading), documentID: id,
                    vector: vectors?[i])
            }
            try tx.setChunkCount(chunks.count, documentID: id)
        }
    }

    /// A unit vector along `axis` (mostly), in 8 dimensions.
    static func unit(_ axis: Int, tilt: Float = 0) -> [Float] {
        var v = [Float](repeating: 0, count: 8)
        v[axis] = 1
        v[(axis + 1) % 8] = tilt
        let norm = (1 + tilt * tilt).squareRoot()
        return v.map { $0 / norm }
    }

    @Test(arguments: TestBackend.available)
    func documentsChunksAndSourcesRoundTrip(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        try Self.add(store, path: "/docs/a.md", chunks: ["alpha one", "alpha two"], heading: "Intro", hash: "ha")
        try Self.add(store, path: "/docs/sub/b.jsonl#1", chunks: ["beta"], hash: "hb1")
        try Self.add(store, path: "/docs/sub/b.jsonl#2", chunks: ["beta two"], hash: "hb2")
        try Self.add(store, path: "/docsx/c.txt", chunks: ["gamma"])

        #expect(try store.documents().map(\.path) == ["/docs/a.md", "/docs/sub/b.jsonl#1", "/docs/sub/b.jsonl#2", "/docsx/c.txt"])
        #expect(try store.documents(under: "/docs").map(\.path) == ["/docs/a.md", "/docs/sub/b.jsonl#1", "/docs/sub/b.jsonl#2"])
        #expect(try store.documents(under: "/docs/sub/b.jsonl").count == 2)
        let a = try #require(try store.documents(under: "/docs/a.md").first)
        #expect(a.title == "T /docs/a.md" && a.chunkCount == 2 && a.contentHash == "ha" && a.format == "text" && a.size == 10)
        #expect(try store.chunks(documentPath: "/docs/a.md") == [
            ChunkDraft(ordinal: 0, text: "alpha one", start: 0, end: 9, tokenCount: 2, heading: "Intro"),
            ChunkDraft(ordinal: 1, text: "alpha two", start: 10, end: 19, tokenCount: 2, heading: "Intro"),
        ])
        #expect(try store.sources(under: "/docs").map(\.path) == ["/docs/a.md", "/docs/sub/b.jsonl"])
        #expect(try store.allSources().count == 3)
        let b = try #require(try store.source(path: "/docs/sub/b.jsonl"))
        #expect(try store.documentCount(sourceID: b.id) == 2)
        #expect(try store.documentHashes(sourceID: b.id) == ["/docs/sub/b.jsonl#1": "hb1", "/docs/sub/b.jsonl#2": "hb2"])
        let stats = try store.stats()
        #expect(stats.sources == 3 && stats.documents == 4 && stats.chunks == 5 && stats.vectors == 0 && stats.documentBytes == 40)
        #expect(stats.fileBytes > 0)

        // Inside a transaction, reads see its own writes.
        try store.transaction { tx in
            let id = try #require(try tx.source(path: "/docs/a.md")?.id)
            #expect(try tx.documentCount(sourceID: id) == 1)
            try tx.deleteSource(id: id)
            #expect(try tx.source(path: "/docs/a.md") == nil)
            #expect(try tx.document(id: a.id) == nil)
        }
        #expect(try store.stats().chunks == 3)
    }

    @Test(arguments: TestBackend.available)
    func theRevisionGrowsWithEveryChangeAndAFailedTransactionLeavesNothing(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        let start = try store.revision()
        try Self.add(store, path: "/a.txt", chunks: ["one", "two"])
        let afterAdd = try store.revision()
        #expect(afterAdd == start + 1)
        try store.transaction { _ in }
        #expect(try store.revision() == afterAdd)
        struct Boom: Error {}
        #expect(throws: (any Error).self) {
            try store.transaction { tx in
                try tx.deleteDocument(path: "/a.txt")
                try tx.upsertSource(path: "/half", format: .text, size: 1, mtime: 1, contentHash: "x")
                throw Boom()
            }
        }
        #expect(try store.revision() == afterAdd)
        #expect(try store.documents().map(\.path) == ["/a.txt"] && store.source(path: "/half") == nil)
        try store.transaction { try $0.deleteDocument(path: "/a.txt") }
        #expect(try store.revision() == afterAdd + 1)
    }

    @Test(arguments: TestBackend.available)
    func lexicalSearchFindsTheRightChunkFirstWithStemming(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        try Self.add(store, path: "/a.md", chunks: ["Speculative decoding drafts tokens with a small model.", "Unrelated text about gardens."])
        try Self.add(store, path: "/b.md", chunks: ["Quantization stores weights in fewer bits."], heading: "Café")
        let hits = try store.searchBM25("how does speculative decoding draft?", limit: 5)
        #expect(hits.first?.document == "/a.md")
        #expect(hits.first?.snippet.contains("[Speculative]") == true)
        #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
        #expect(try store.searchBM25("quantize", limit: 5).first?.document == "/b.md")  // stemming
        #expect(try store.searchBM25("café", limit: 5).first?.heading == "Café")  // headings are searched
        #expect(try store.searchBM25("gardens or quantization", limit: 5).count == 2)  // any word matches
        try store.transaction { try $0.deleteDocument(path: "/a.md") }
        #expect(try store.searchBM25("speculative", limit: 5).isEmpty)
    }

    @Test(arguments: TestBackend.available)
    func hostileQueriesNeverFail(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        try Self.add(store, path: "/a.md", chunks: ["text foo long and start values"])
        for query in [
            "\"", "\"unbalanced", "AND", "OR NOT", "NEAR(a b", "text:foo", "heading:*", "*", "^start", "a AND (b OR", "'; DROP TABLE chunk; --",
            "", "   ", "🙂🙂", "\u{0}", "col:val -x +y", String(repeating: "long ", count: 5000), "((((((", "ünïcödé", "foo <-> bar & !baz | qux:*",
        ] {
            _ = try store.searchBM25(query, limit: 10)
        }
        #expect(try store.searchBM25("-foo", limit: 10).count == 1)  // not a negation: a word
        #expect(try store.stats().chunks == 1)
    }

    @Test(arguments: TestBackend.available)
    func vectorSearchFindsTheNearestAndForgetsDeletedChunks(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        #expect(try store.nearest(Self.unit(0), k: 3, ef: 16).isEmpty)
        #expect(try store.graphInfo() == nil)
        try store.transaction { try $0.setChunker("{}", embedder: "test/8") }
        for axis in 0..<6 {
            try Self.add(store, path: "/d\(axis)", chunks: ["axis \(axis)", "axis \(axis) tilted"], vectors: [Self.unit(axis), Self.unit(axis, tilt: 0.5)])
        }
        let nearest = try store.nearest(Self.unit(2, tilt: 0.1), k: 3, ef: 32)
        let hits = try store.hits(nearest)
        #expect(hits.map(\.text) == ["axis 2", "axis 2 tilted", "axis 1 tilted"])
        #expect(abs(nearest[0].1 - Double(1 / (1.0 + 0.01).squareRoot())) < 1e-5)
        #expect(nearest.map(\.1) == nearest.map(\.1).sorted(by: >))
        let info = try #require(try store.graphInfo())
        #expect(info.nodes == 12 && info.dimensions == 8 && info.m == 16 && info.efConstruction == 200)
        #expect(try store.stats().vectors == 12)
        #expect(try store.graphProblems() == [])

        #expect { try store.nearest([1, 0, 0], k: 3, ef: 16) } throws: { ($0 as? RAGError)?.code == .invalidInput }
        // A vector of other dimensions never enters the vector index: PostgreSQL refuses the
        // transaction; SQLite writes the chunk and leaves the vector out of its graph, saying so.
        let wrong = Result {
            try store.transaction { tx in
                let sourceID = try tx.upsertSource(path: "/bad", format: .text, size: 1, mtime: 1, contentHash: "x")
                let id = try tx.insertDocument(
                    LoadedDocument(path: "/bad", title: nil, format: .text, contentHash: "x", size: 1, sections: []), sourceID: sourceID, mtime: 1)
                try tx.insertChunk(ChunkDraft(ordinal: 0, text: "bad", start: 0, end: 3, tokenCount: 1, heading: ""), documentID: id, vector: [1, 0, 0])
            }
        }
        if backend == .postgres {
            #expect(throws: RAGError.self) { try wrong.get() }
            #expect(try store.source(path: "/bad") == nil)
        }
        #expect(try store.graphInfo()?.nodes == 12)
        try store.transaction { try $0.deleteDocument(path: "/bad") }

        try store.transaction { try $0.deleteDocument(path: "/d2") }
        let after = try store.hits(store.nearest(Self.unit(2), k: 4, ef: 32))
        #expect(after.first?.text == "axis 1 tilted" && !after.contains { $0.document == "/d2" })

        // New parameters rebuild the index from the stored vectors.
        let rebuilt = try #require(try store.rebuildGraph(parameters: HNSWGraph.Parameters(m: 8, efConstruction: 40)))
        #expect(rebuilt.m == 8 && rebuilt.efConstruction == 40 && rebuilt.nodes == 10)
        #expect(try store.hits(store.nearest(Self.unit(4), k: 1, ef: 8)).map(\.text) == ["axis 4"])
    }

    @Test(arguments: TestBackend.available)
    func renamingAndReChunkingKeepDocumentsWhole(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        try store.transaction { try $0.setChunker("{\"size\":1}", embedder: "") }
        try Self.add(store, path: "/old/ünï.jsonl#1", chunks: ["one"])
        try Self.add(store, path: "/old/ünï.jsonl#2", chunks: ["two"])
        let source = try #require(try store.source(path: "/old/ünï.jsonl"))
        try store.transaction { try $0.renameSource(id: source.id, from: "/old/ünï.jsonl", to: "/new/ü.jsonl", mtime: 5) }
        #expect(try store.documents().map(\.path) == ["/new/ü.jsonl#1", "/new/ü.jsonl#2"])
        #expect(try store.source(path: "/new/ü.jsonl")?.mtime == 5)
        #expect(try store.searchBM25("two", limit: 3).map(\.document) == ["/new/ü.jsonl#2"])

        // Another chunker marks everything for re-chunking; the same one changes nothing.
        let revision = try store.revision()
        try store.transaction { try $0.setChunker("{\"size\":1}", embedder: "") }
        #expect(try store.revision() == revision)
        try store.transaction { try $0.setChunker("{\"size\":2}", embedder: "") }
        #expect(try store.chunker() == "{\"size\":2}")
        #expect(try store.allSources().map(\.contentHash) == [""])
        #expect(try store.documents().allSatisfy { $0.contentHash.isEmpty })
        try store.transaction { try $0.invalidateSource(id: source.id) }
        try store.transaction { try $0.touchSource(id: source.id, mtime: 9) }
        #expect(try store.source(path: "/new/ü.jsonl")?.mtime == 9)
    }

    @Test(arguments: TestBackend.available)
    func aMissingIndexIsAClearErrorWhenItMustExist(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let location = backend.newIndex(in: folder.url)
        #expect {
            switch backend {
            case .sqlite: _ = try SQLiteStore(path: location, mode: .mustExist)
            case .postgres: _ = try PostgresStore(url: location, mode: .mustExist)
            }
        } throws: { error in
            (error as? RAGError)?.code == .notFound && (error as? RAGError)!.message.contains("rag ingest")
        }
    }

    /// Two processes writing at once (two stores on one index here, on two threads): writers
    /// take turns, so no document is duplicated, lost or mixed with another.
    @Test(arguments: TestBackend.available)
    func twoWritersAtOnceNeitherDuplicateNorLoseADocument(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let location = backend.newIndex(in: folder.url)
        let stores = try (0..<2).map { _ in try Self.open(backend, in: folder, busyTimeout: 30, at: location) }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for round in 0..<15 {
                do {
                    // Both write the same paths: the later replaces the earlier, whole.
                    try Self.add(stores[writer], path: "/shared-\(round % 5)", chunks: ["w\(writer) r\(round) a", "w\(writer) r\(round) b"])
                    try Self.add(stores[writer], path: "/own-\(writer)-\(round)", chunks: ["mine"])
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let documents = try stores[0].documents()
        #expect(documents.count == 5 + 30)
        for document in documents where document.path.hasPrefix("/shared") {
            let chunks = try stores[1].chunks(documentPath: document.path).map(\.text)
            #expect(chunks.count == 2 && chunks[0].dropLast(2) == chunks[1].dropLast(2), "\(document.path): \(chunks)")
        }
    }

    /// A writer that waits longer than its busy timeout for another fails clearly and writes nothing.
    @Test(arguments: TestBackend.available)
    func aSecondWriterWaitsThenFailsClearly(backend: TestBackend) async throws {
        let folder = try TemporaryFolder()
        let location = backend.newIndex(in: folder.url)
        let first = try Self.open(backend, in: folder, at: location)
        let impatient = try Self.open(backend, in: folder, busyTimeout: 0.2, at: location)
        let patient = try Self.open(backend, in: folder, busyTimeout: 10, at: location)
        let started = DispatchSemaphore(value: 0)
        let holder = Task.detached {
            try first.transaction { tx in
                try tx.upsertSource(path: "/held", format: .text, size: 1, mtime: 1, contentHash: "x")
                started.signal()
                Thread.sleep(forTimeInterval: 1.0)
            }
        }
        started.wait()
        #expect { try impatient.transaction { try $0.upsertSource(path: "/b", format: .text, size: 1, mtime: 1, contentHash: "y") } } throws: {
            ($0 as? RAGError)?.code == .busy && ($0 as? RAGError)!.message.contains("another process")
        }
        try patient.transaction { try $0.upsertSource(path: "/c", format: .text, size: 1, mtime: 1, contentHash: "z") }
        try await holder.value
        #expect(try patient.allSources().map(\.path) == ["/c", "/held"])
    }
}

extension IndexStoreTests {
    /// Filters select documents by path glob, tags and ingestion time, in lexical and dense
    /// search alike, on every backend; the `k` asked for come back when enough documents pass.
    @Test(arguments: TestBackend.available)
    func filtersSelectDocumentsByPathTagsAndTime(backend: TestBackend) throws {
        let folder = try TemporaryFolder()
        let store = try Self.open(backend, in: folder)
        try store.transaction { try $0.setChunker("c", embedder: "e") }
        // 40 documents about the same thing, tagged by parity, in two folders.
        for i in 0..<40 {
            let path = i % 4 == 0 ? "/team/notes/n\(i).md" : "/docs/d\(i).md"
            try store.transaction { tx in
                let source = try tx.upsertSource(path: path, format: .markdown, size: 1, mtime: 1, contentHash: "h\(i)")
                var document = LoadedDocument(path: path, title: nil, format: .markdown, contentHash: "h\(i)", size: 1, sections: [])
                document.tags = ["parity": [i % 2 == 0 ? "even" : "odd"], "team": ["search"]]
                let id = try tx.insertDocument(document, sourceID: source, mtime: 1)
                try tx.insertChunk(
                    ChunkDraft(ordinal: 0, text: "speculative decoding note \(i)", start: 0, end: 10, tokenCount: 4, heading: ""), documentID: id,
                    vector: Self.unit(i % 8, tilt: Float(i) / 40))
                try tx.setChunkCount(1, documentID: id)
            }
        }
        func paths(_ ranking: [(ChunkID, Double)]) throws -> [String] { try store.hits(ranking).map(\.document) }
        let even = SearchFilter(tags: ["parity": ["even"]])
        let notes = SearchFilter(path: "/team/*/n[0-9]*.md")
        for ranking in [try store.bm25Ranking("speculative decoding", limit: 10, filter: even), try store.nearest(Self.unit(1), k: 10, ef: 16, filter: even)] {
            let found = try paths(ranking)
            #expect(found.count == 10)
            #expect(found.allSatisfy { Int($0.filter(\.isNumber))! % 2 == 0 }, "\(found)")
        }
        for ranking in [try store.bm25Ranking("speculative decoding", limit: 20, filter: notes), try store.nearest(Self.unit(1), k: 20, ef: 16, filter: notes)] {
            let found = try paths(ranking)
            #expect(found.count == 10 && found.allSatisfy { $0.hasPrefix("/team/notes/") }, "\(found)")
        }
        let both = SearchFilter(path: "/team/*", tags: ["parity": ["even"], "team": ["search"]])
        #expect(try store.nearest(Self.unit(0), k: 40, ef: 16, filter: both).count == 10)
        #expect(try store.bm25Ranking("speculative", limit: 40, filter: SearchFilter(tags: ["parity": ["none"]])).isEmpty)
        #expect(try store.nearest(Self.unit(0), k: 5, ef: 16, filter: SearchFilter(tags: ["team": ["other"]])).isEmpty)
        #expect(try store.nearest(Self.unit(0), k: 5, ef: 16, filter: SearchFilter(ingestedAfter: Date().timeIntervalSince1970 + 60)).isEmpty)
        #expect(try store.bm25Ranking("speculative", limit: 50, filter: SearchFilter(ingestedAfter: 0)).count == 40)
        // The nearest with a filter are the nearest of those that pass.
        let query = Self.unit(0, tilt: 0.3)
        let all = try store.hits(store.nearest(query, k: 40, ef: 64)).filter { $0.document.hasPrefix("/team/") }.map(\.document)
        #expect(try paths(store.nearest(query, k: 3, ef: 64, filter: notes)) == Array(all.prefix(3)))
        // Deleting a document takes its tags.
        try store.transaction { try $0.deleteDocument(path: "/team/notes/n0.md") }
        #expect(try store.nearest(Self.unit(0), k: 40, ef: 16, filter: both).count == 9)
    }

    @Test func globsMeanTheSameAsRegularExpressions() throws {
        let cases: [(String, String, Bool)] = [
            ("/docs/*.md", "/docs/a.md", true), ("/docs/*.md", "/docs/sub/a.md", true), ("/docs/*.md", "/docs/a.txt", false),
            ("/d?cs/a.md", "/docs/a.md", true), ("/d?cs/a.md", "/dcs/a.md", false), ("*[0-9].md", "/x/n7.md", true),
            ("*[!0-9].md", "/x/n7.md", false), ("*[!0-9].md", "/x/na.md", true), ("/a+b(c).md", "/a+b(c).md", true),
            ("/a+b(c).md", "/aab(c).md", false), ("/[docs", "/[docs", true), ("[]x]*", "]a", true), ("*[^a].md", "/b.md", true),
            ("/[z-a]", "/m", false), ("/[z-ab]", "/b", true), ("/[!z-a]", "/m", true), ("/[a-]x", "/-x", true), ("/[-a]x", "/-x", true),
            ("/a.b\\c", "/a.b\\c", true), ("/ü?", "/üx", true), ("/[a-c-e]", "/-", true), ("/[a-c-e]", "/d", false), ("/x.md", "/xxmd", false), ("*", "", true),
        ]
        let folder = try TemporaryFolder()
        let sqlite = try Self.open(.sqlite, in: folder) as! SQLiteStore
        for (glob, path, matches) in cases {
            let regexSays = try SearchFilter.regex(fromGlob: glob).map { try Regex($0) }.map { path.wholeMatch(of: $0) != nil } ?? false
            #expect(regexSays == matches, "\(glob) ~ \(path): regex")
            let sqliteSays = try sqlite.read { try Bool.fetchOne($0, sql: "SELECT ? GLOB ?", arguments: [path, SearchFilter.sqliteGlob(fromGlob: glob)]) } ?? false
            #expect(sqliteSays == matches, "\(glob) ~ \(path): SQLite GLOB")
        }
    }
}

/// What only the PostgreSQL backend has: a server that can go away under it.
@Suite(.onTestThreads) struct PostgresStoreTests {
    /// The connections a store keeps for later are closed by the server (a restart, an
    /// administrator, an idle timeout): the next call opens new ones instead of failing or hanging.
    @Test(.enabled(if: TestBackend.available.contains(.postgres)))
    func connectionsTheServerClosedAreReplaced() throws {
        let folder = try TemporaryFolder()
        let location = TestBackend.postgres.newIndex(in: folder.url)
        let store = try PostgresStore(url: location)
        try IndexStoreTests.add(store, path: "/a", chunks: ["one"])
        let database = String(location.split(separator: "/").last!)
        let admin = try PostgresStore(url: TestBackend.postgres.newIndex(in: folder.url))
        let terminated = try admin.read { connection, logger in
            try connection.run(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = \(database) AND pid <> pg_backend_pid()", logger: logger
            ).first!.decode(Int.self)
        }
        #expect(terminated >= 1)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try store.documents().map(\.path) == ["/a"])
        try IndexStoreTests.add(store, path: "/b", chunks: ["two"])
        #expect(try store.stats().documents == 2)
    }

    /// A small collection with repeated words, shared stems, headings and accents.
    static let lexicalCorpus: [(path: String, heading: String, chunks: [String])] = {
        let words = ["decoding", "decoder", "speculative", "draft", "drafts", "token", "tokens", "cache", "caching", "quantization",
                     "weights", "bits", "attention", "head", "heads", "café", "naïve", "model", "models", "latency"]
        // Deterministic, uneven mixes: lengths 3 to 40, words drawn by a quadratic walk.
        return (0..<12).map { document in
            let chunks = (0..<(1 + document % 4)).map { chunk in
                (0..<(3 + (document * 5 + chunk * 11) % 38)).map { k in words[(document * 7 + chunk * 13 + k * k * 3) % words.count] }.joined(separator: " ")
            }
            return ("/doc\(document).md", document % 3 == 0 ? "Heading \(words[document])" : "", chunks)
        }
    }()

    /// PostgreSQL's BM25 is SQLite's: the same chunks come back in the same order with the same
    /// scores, before and after documents are removed (N and the average length move).
    @Test(.enabled(if: TestBackend.available.contains(.postgres)))
    func bm25ScoresAreSQLitesScores() throws {
        let folder = try TemporaryFolder()
        let sqlite = try IndexStoreTests.open(.sqlite, in: folder)
        let postgres = try IndexStoreTests.open(.postgres, in: folder)
        for store in [sqlite, postgres] {
            for document in Self.lexicalCorpus { try IndexStoreTests.add(store, path: document.path, chunks: document.chunks, heading: document.heading) }
        }
        let queries = ["speculative decoding", "drafts of tokens and the token cache", "cafe naive", "heading heads", "quantization weights bits latency",
                       "decoder decoding decoded", "nothing matches zebra", "model"]
        func compare() throws {
            for query in queries {
                let expected = try sqlite.bm25Ranking(query, limit: 50)
                let got = try postgres.bm25Ranking(query, limit: 50)
                #expect(got.count == expected.count, "\(query)")
                #expect(!expected.isEmpty || query.contains("zebra"), "\(query)")
                // Chunk ids differ between the stores: compare by text, scores to 1e-9.
                let expectedTexts = try sqlite.hits(expected).map(\.text)
                let gotTexts = try postgres.hits(got).map(\.text)
                for (i, (want, have)) in zip(expected, got).enumerated() {
                    #expect(abs(want.1 - have.1) <= 1e-9 * max(1, abs(want.1)), "\(query) #\(i): \(have.1) vs \(want.1)")
                    if i + 1 < expected.count, abs(expected[i + 1].1 - want.1) > 1e-9, i == 0 || abs(expected[i - 1].1 - want.1) > 1e-9 {
                        #expect(gotTexts[i] == expectedTexts[i], "\(query) #\(i)")
                    }
                }
            }
        }
        try compare()
        for store in [sqlite, postgres] {
            try store.transaction { tx in
                try tx.deleteDocument(path: "/doc1.md")
                try tx.deleteDocument(path: "/doc6.md")
            }
        }
        try compare()
    }

    /// An index written before postings existed gets them when a newer rag opens it: the
    /// migration analyses every chunk, and BM25 then scores as on a new index.
    @Test(.enabled(if: TestBackend.available.contains(.postgres)))
    func chunksWrittenBeforePostingsAreIndexedWhenOpened() throws {
        let folder = try TemporaryFolder()
        let location = TestBackend.postgres.newIndex(in: folder.url)
        let store = try PostgresStore(url: location)
        for document in Self.lexicalCorpus { try IndexStoreTests.add(store, path: document.path, chunks: document.chunks, heading: document.heading) }
        let before = try store.bm25Ranking("speculative decoding of draft tokens", limit: 20)
        #expect(before.count > 5)
        // Back to the schema of the first migration.
        try store.read { connection, logger in
            for statement in [
                "DROP TRIGGER chunk_added ON chunk", "DROP TRIGGER chunk_removed ON chunk", "DROP FUNCTION rag_chunks_added()", "DROP FUNCTION rag_chunks_removed()",
                "DROP TABLE posting", "ALTER TABLE chunk DROP COLUMN lexical_length",
                "ALTER TABLE index_state DROP COLUMN lexical_chunks, DROP COLUMN lexical_tokens",
                "ALTER TABLE chunk ADD COLUMN lexemes tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
                "CREATE INDEX chunk_lexemes ON chunk USING gin (lexemes)", "DELETE FROM rag_migration WHERE name = 'v2-bm25-postings'",
            ] {
                _ = try connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        try store.close()
        let reopened = try PostgresStore(url: location)
        let after = try reopened.bm25Ranking("speculative decoding of draft tokens", limit: 20)
        #expect(after.map { $0.0 } == before.map { $0.0 })
        #expect(zip(after, before).allSatisfy { abs($0.1 - $1.1) <= 1e-9 * max(1, abs($1.1)) })
    }

    /// Vectors stay in their rows (storage MAIN) after the column gets its dimensions and after
    /// an embedder change resets them: out of line, the planner scanned every row's TOAST
    /// instead of the HNSW index.
    @Test(.enabled(if: TestBackend.available.contains(.postgres)))
    func vectorsStayInTheirRows() throws {
        let folder = try TemporaryFolder()
        let store = try PostgresStore(url: TestBackend.postgres.newIndex(in: folder.url))
        func storage() throws -> String {
            try store.read { connection, logger in
                try connection.run("SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'chunk'::regclass AND attname = 'embedding'", logger: logger)
                    .first!.decode(String.self)
            }
        }
        #expect(try storage() == "m")
        try store.transaction { try $0.setChunker("c", embedder: "e1") }
        try IndexStoreTests.add(store, path: "/a", chunks: ["one"], vectors: [IndexStoreTests.unit(0)])
        #expect(try storage() == "m")
        try store.transaction { try $0.setChunker("c", embedder: "e2") }
        #expect(try storage() == "m")
    }

    /// More neighbours than pgvector's beam can hold (1000): the scan goes on (iterative, strict
    /// order), and all come back nearest first.
    @Test(.enabled(if: TestBackend.available.contains(.postgres)))
    func moreNeighboursThanTheBeamHolds() throws {
        let folder = try TemporaryFolder()
        let store = try PostgresStore(url: TestBackend.postgres.newIndex(in: folder.url))
        let count = 1200
        let vectors: [[Float]] = (0..<count).map { i in
            let v = (0..<8).map { d in Float(sin(Double(i * 8 + d) * 0.37)) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
        try store.transaction { tx in
            try tx.setChunker("c", embedder: "e")
            let source = try tx.upsertSource(path: "/many", format: .text, size: 1, mtime: 1, contentHash: "h")
            let id = try tx.insertDocument(LoadedDocument(path: "/many", title: nil, format: .text, contentHash: "h", size: 1, sections: []), sourceID: source, mtime: 1)
            let drafts = (0..<count).map { ChunkDraft(ordinal: $0, text: "chunk \($0)", start: $0, end: $0 + 1, tokenCount: 2, heading: "") }
            #expect(try tx.insertChunks(drafts, documentID: id, vectors: vectors[...]).count == count)
        }
        let found = try store.nearest(vectors[0], k: 1100, ef: 64)
        #expect(found.count == 1100)
        #expect(found.map { $0.1 } == found.map { $0.1 }.sorted(by: >))
        #expect(abs((found.first?.1 ?? 0) - 1) < 1e-5)
    }
}

