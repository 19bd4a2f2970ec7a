import RAGTesting
import Testing
@testable import RAGStorage

@Suite(.onTestThreads) struct SnippetTests {
    @Test func marksTheQueryWordsInAWindowAroundThem() {
        let text = (1...40).map { "w\($0)" }.joined(separator: " ") + " Speculative decoding drafts tokens. " + (41...80).map { "w\($0)" }.joined(separator: " ")
        let snippet = Snippet(words: ["speculative", "draft"], length: 8).make(text)
        #expect(snippet == "…w39 w40 [Speculative] decoding [drafts] tokens. w41 w42…")
    }

    @Test func prefersTheWindowWithMoreDistinctWords() {
        let text = "cache cache cache and more filler words here then the prefix cache reuse comes at last"
        let snippet = Snippet(words: ["prefix", "cache"], length: 4).make(text)
        #expect(snippet == "…then the [prefix] [cache]…")
    }

    @Test func matchesWordsThatShareAStem() {
        #expect(Snippet.matches(ArraySlice("Quantization".utf8), Array("quantize".utf8)))
        #expect(Snippet.matches(ArraySlice("cells".utf8), Array("cell".utf8)))
        #expect(!Snippet.matches(ArraySlice("category".utf8), Array("cat".utf8)))
        #expect(!Snippet.matches(ArraySlice("cellular".utf8), Array("celebrate".utf8)))
    }

    @Test func noMatchGivesNilAndNonASCIITextStaysWhole() {
        #expect(Snippet(words: ["absent"]).make("nothing here") == nil)
        #expect(Snippet(words: ["café"]).make("Le café — très bon") == "Le [café] — très bon")
    }

    @Test func stopWordsLeaveTheQueryUnlessTheyAreAllOfIt() {
        #expect(LexicalQuery.words("What is the role of the KV cache in decoding?") == ["what", "role", "kv", "cache", "decoding"])
        #expect(LexicalQuery.words("to be or not to be") == ["to", "be", "or", "not"])
        #expect(SQLiteStore.ftsPattern("the cat") == "\"cat\"")
    }
}
