import Foundation
import RAG
import RAGCore
import RAGIndex
import RAGEmbedding
import RAGStorage
import RAGTesting
import Testing

/// The wiring point on a real index file, with no model file: the models it would load are
/// named by paths that do not exist, so any stage that loaded one would fail the test.
@Suite(.onTestThreads) struct RAGServiceTests {
    func service(_ ws: Workspace, _ configure: (inout RAGService.Configuration) -> Void = { _ in }) throws -> RAGService {
        var configuration = RAGService.Configuration(database: ws.path("index.sqlite"))
        configuration.openMode = .createIfMissing
        configuration.embedderDirectory = ws.path("no-embedder")
        configuration.generatorPath = ws.path("no-model.gguf")
        configure(&configuration)
        return try RAGService(configuration)
    }

    @Test func anIndexWithoutVectorsIsSearchedByBM25WithoutAnEmbedder() throws {
        let ws = try Workspace()
        try ws.write("docs/harbor.md", "# Harbor\n\nHarbor keeps its HNSW graph inside the SQLite file.\n")
        try ws.write("docs/lantern.md", "# Lantern\n\nLantern listens on port 7070.\n")
        let rag = try service(ws)
        let report = try rag.ingest([ws.docs], embed: false)
        #expect(report.added == 2)
        #expect(try rag.mode() == .bm25)
        let (hits, mode) = try rag.search("which port does lantern listen on", topK: 3)
        #expect(mode == .bm25 && hits.first?.document.hasSuffix("lantern.md") == true)
        // Asking for dense search is what needs the embedder: a clear error naming the model.
        #expect(throws: RAGError.self) { try rag.search("port", mode: .dense, topK: 3) }
    }

    @Test func removingOneDocumentByIDForgetsItsFileWhenItHeldNothingElse() throws {
        let ws = try Workspace()
        try ws.write("docs/a.md", "# A\n\nAlpha text about harbors.\n")
        try ws.write("docs/b.md", "# B\n\nBeta text about lanterns.\n")
        let rag = try service(ws)
        _ = try rag.ingest([ws.docs], embed: false)
        let a = try #require(try rag.documents().first { $0.path.hasSuffix("a.md") })
        #expect(try rag.remove(id: a.id)?.path == a.path)
        #expect(try rag.remove(id: a.id) == nil)
        #expect(try rag.documents().map(\.path).allSatisfy { $0.hasSuffix("b.md") })
        #expect(try rag.store.source(path: a.path) == nil)
        // The file is ingested anew next time, not skipped as unchanged.
        #expect(try rag.ingest([ws.docs], embed: false).added == 1)
    }

    @Test func graphParametersFillInTheStoredOnesThenTheDefaults() throws {
        let ws = try Workspace()
        let rag = try service(ws)
        #expect(try rag.graphParameters(m: nil, efConstruction: nil) == nil)
        let p = try #require(try rag.graphParameters(m: 8, efConstruction: nil))
        #expect(p.m == 8 && p.efConstruction == 200)
    }

    @Test func settingsAreCheckedOnce() throws {
        let ws = try Workspace()
        #expect(throws: RAGError.self) { try service(ws) { $0.denseWeight = 0; $0.bm25Weight = 0 } }
        #expect(throws: RAGError.self) { try service(ws) { $0.ef = 0 } }
        #expect(throws: RAGError.self) { try service(ws) { $0.answerCacheSimilarity = 2 } }
        let rag = try service(ws)
        #expect(throws: RAGError.self) { try rag.checkTemplate("no-such-template") }
        try rag.checkTemplate("default")
    }

    /// With no precision asked for, an index keeps the one its vectors were made with (nothing
    /// is re-embedded behind the user's back); a new index gets the default (int8 with AVX-512
    /// VNNI, else bf16).
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func anIndexKeepsItsPrecisionUnlessAnotherIsAsked() throws {
        let ws = try Workspace()
        try ws.write("docs/harbor.md", "# Harbor\n\nHarbor keeps its HNSW graph inside the SQLite file.\n")
        func open(_ name: String, _ precision: BertEncoder.Precision?) throws -> RAGService {
            var configuration = RAGService.Configuration(database: ws.path(name))
            configuration.openMode = .createIfMissing
            configuration.embedderDirectory = ModelFiles.embedder
            configuration.embedPrecision = precision
            return try RAGService(configuration)
        }
        #expect(try open("new.sqlite", nil).embedder().name == "all-MiniLM-L6-v2-\(SentenceEmbedder.defaultPrecision.rawValue)")
        #expect(try open("exact.sqlite", .f32).ingest([ws.docs]).added == 1)
        let reopened = try open("exact.sqlite", nil)
        #expect(try reopened.embedder().name == "all-MiniLM-L6-v2")
        #expect(try reopened.ingest([ws.docs]).unchanged == 1)
        #expect(try open("exact.sqlite", .bf16).ingest([ws.docs]).documents == 1)
        #expect(try open("exact.sqlite", nil).store.embedder() == "all-MiniLM-L6-v2-bf16/384")
        #expect(SentenceEmbedder.precision(recordedAs: "all-MiniLM-L6-v2-int8/384") == .int8)
        #expect(SentenceEmbedder.precision(recordedAs: "hashing-embedder/64") == nil)
    }
}
