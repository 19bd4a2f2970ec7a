import Foundation
import RAG
import RAGCore
import RAGStorage
import RAGTesting
import Testing

/// The stages on each index backend, through the one wiring point: ingest (incremental: only
/// what changed), hybrid search, renames, removals and the revision the answer cache reads.
/// The hashing twin embeds; no model file is read.
@Suite(.onTestThreads) struct BackendTests {
    @Test(arguments: TestBackend.available)
    func ingestSearchAndRemoveWorkAlikeOnEveryBackend(backend: TestBackend) throws {
        let ws = try Workspace()
        try ws.write("docs/harbor.md", "# Harbor\n\nHarbor keeps its HNSW graph inside the index and answers on port 8080.\n")
        try ws.write("docs/lantern.md", "# Lantern\n\nLantern listens on port 7070 and speaks gopher.\n")
        try ws.write("docs/notes/records.jsonl", """
            {"_id": "r1", "title": "Quay", "text": "The quay stores crates of lemons."}
            {"_id": "r2", "title": "Pier", "text": "The pier holds fishing boats at night."}
            """)
        var configuration = RAGService.Configuration(database: backend.newIndex(in: ws.root))
        configuration.openMode = .createIfMissing
        let rag = try RAGService(configuration, embedder: HashingEmbedder())

        let first = try rag.ingest([ws.docs])
        #expect(first.added == 4 && first.skipped.isEmpty)
        #expect(try rag.mode() == .hybrid)
        for mode in [SearchMode.bm25, .dense, .hybrid] {
            #expect(try rag.search("which port does lantern listen on", mode: mode, topK: 3).hits.first?.document.hasSuffix("lantern.md") == true, "\(mode)")
        }
        #expect(try rag.search("lemons crates quay", topK: 2).hits.first?.document.hasSuffix("records.jsonl#r1") == true)

        // Incremental: nothing changed, nothing written (the revision stays).
        let revision = try rag.store.revision()
        let again = try rag.ingest([ws.docs])
        #expect(again.unchanged == 4 && again.added == 0 && again.updated == 0)
        #expect(try rag.store.revision() == revision)

        // One file changed, one renamed, one gone.
        try ws.write("docs/lantern.md", "# Lantern\n\nLantern now listens on port 9090.\n")
        try FileManager.default.moveItem(atPath: ws.path("docs/harbor.md"), toPath: ws.path("docs/port.md"))
        try FileManager.default.removeItem(atPath: ws.path("docs/notes/records.jsonl"))
        let third = try rag.ingest([ws.docs])
        #expect(third.updated == 1 && third.renamed == 1 && third.removed == 2, "\(third)")
        #expect(try rag.store.revision() > revision)
        #expect(try rag.documents().map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["lantern.md", "port.md"])
        #expect(try rag.search("port 9090", mode: .bm25, topK: 1).hits.first?.text.contains("9090") == true)
        #expect(try rag.search("lemons", mode: .bm25, topK: 3).hits.isEmpty)

        #expect(try rag.remove(ws.path("docs/port.md")) == 1)
        #expect(try rag.store.stats().documents == 1)
        #expect(try rag.store.graphProblems() == [])
    }

    /// `rag ingest --tag`: every document of a run carries the tags, searches select by them in
    /// every mode, and the same files ingested again with other tags are ingested again (tags
    /// count as content) while the same tags leave them alone.
    @Test(arguments: TestBackend.available)
    func tagsOfARunSelectItsDocuments(backend: TestBackend) throws {
        let ws = try Workspace()
        try ws.write("infra/harbor.md", "# Harbor\n\nHarbor keeps its HNSW graph inside the index and answers on port 8080.\n")
        try ws.write("ml/lantern.md", "# Lantern\n\nLantern listens on port 7070 and keeps its graph in memory.\n")
        try ws.write("ml/records.jsonl", #"{"_id": "r1", "title": "Quay", "text": "The quay keeps a graph of port cranes."}"# + "\n")
        var configuration = RAGService.Configuration(database: backend.newIndex(in: ws.root))
        configuration.openMode = .createIfMissing
        let rag = try RAGService(configuration, embedder: HashingEmbedder())
        var options = Ingestor.Options()
        options.tags = ["team": ["infra"]]
        #expect(try rag.ingest([ws.path("infra")], options: options).added == 1)
        options.tags = ["team": ["ml"], "stage": ["draft"]]
        #expect(try rag.ingest([ws.path("ml")], options: options).added == 2)

        for mode in [SearchMode.bm25, .dense, .hybrid] {
            let ml = try rag.search("which port keeps the graph", mode: mode, topK: 10, filter: SearchFilter(tags: ["team": ["ml"]])).hits.map(\.document)
            #expect(ml.count == 2 && ml.allSatisfy { $0.contains("/ml/") }, "\(mode): \(ml)")
            let infra = try rag.search("which port keeps the graph", mode: mode, topK: 10, filter: SearchFilter(tags: ["team": ["infra"]])).hits.map(\.document)
            #expect(infra.count == 1 && infra[0].hasSuffix("harbor.md"), "\(mode): \(infra)")
            let jsonl = try rag.search("port", mode: mode, topK: 10, filter: SearchFilter(path: "*.jsonl#*", tags: ["stage": ["draft"]])).hits.map(\.document)
            #expect(jsonl.count == 1 && jsonl[0].hasSuffix("records.jsonl#r1"), "\(mode): \(jsonl)")
        }

        let same = try rag.ingest([ws.path("ml")], options: options)
        #expect(same.unchanged == 2 && same.added + same.updated == 0)
        options.tags = ["team": ["search"]]
        let retagged = try rag.ingest([ws.path("ml")], options: options)
        #expect(retagged.updated == 2, "\(retagged)")
        #expect(try rag.search("port", mode: .bm25, topK: 10, filter: SearchFilter(tags: ["team": ["ml"]])).hits.isEmpty)
        #expect(try rag.search("port", mode: .bm25, topK: 10, filter: SearchFilter(tags: ["team": ["search"]])).hits.count == 2)
        #expect(try rag.search("port", mode: .bm25, topK: 10, filter: SearchFilter(tags: ["stage": ["draft"]])).hits.isEmpty)
    }

    /// Markdown front matter's fields are tags (a list is several values of one key), listed
    /// with the document; a filter's values must all be there; a run's tag replaces the
    /// document's own values of its key.
    @Test(arguments: TestBackend.available)
    func frontMatterFieldsAreTags(backend: TestBackend) throws {
        let ws = try Workspace()
        try ws.write("a.md", "---\ntitle: Harbor\ndate: 2026-11-30\ntags: [rust, async]\n---\n# Harbor\n\nHarbor answers on port 8080.\n")
        try ws.write("b.md", "---\ntags:\n  - rust\n---\nLantern answers on port 7070.\n")
        try ws.write("c.md", "Quay answers on port 6060.\n")
        var configuration = RAGService.Configuration(database: backend.newIndex(in: ws.root))
        configuration.openMode = .createIfMissing
        let rag = try RAGService(configuration, embedder: HashingEmbedder())
        #expect(try rag.ingest([ws.root.path]).added == 3)

        func found(_ tags: [String: [String]]) throws -> [String] {
            try rag.search("port", mode: .hybrid, topK: 10, filter: SearchFilter(tags: tags)).hits.map { String($0.document.split(separator: "/").last!) }.sorted()
        }
        #expect(try found(["tags": ["rust"]]) == ["a.md", "b.md"])
        #expect(try found(["tags": ["rust", "async"]]) == ["a.md"])
        #expect(try found(["tags": ["async"], "date": ["2026-11-30"], "title": ["Harbor"]]) == ["a.md"])
        #expect(try found(["tags": ["go"]]).isEmpty)
        let listed = try rag.documents().first { $0.path.hasSuffix("a.md") }
        #expect(listed?.tags == ["date": ["2026-11-30"], "tags": ["async", "rust"], "title": ["Harbor"]])

        var options = Ingestor.Options()
        options.tags = ["tags": ["go"]]
        #expect(try rag.ingest([ws.root.path], options: options).updated == 3)
        #expect(try found(["tags": ["go"]]) == ["a.md", "b.md", "c.md"])
        #expect(try found(["tags": ["rust"]]).isEmpty)
        #expect(try found(["title": ["Harbor"]]) == ["a.md"])
    }
}
