import RAGCore
import Testing
@testable import RAGText

@Suite struct SentenceSplitterTests {
    @Test func splitsSentencesAndKeepsAbbreviations() throws {
        // Given text with abbreviations that end in a period
        let text = "Mr. Smith met Jones at 3 p.m. yesterday. They talked, e.g. about caching.  Then they left!"
        // When it is split
        let sentences = try SentenceSplitter.sentenceRanges(in: text).map { range in
            String(decoding: Array(text.utf8)[range], as: UTF8.self)
        }
        // Then abbreviations stay inside their sentences
        #expect(sentences == [
            "Mr. Smith met Jones at 3 p.m. yesterday.", "They talked, e.g. about caching.", "Then they left!",
        ])
    }

    @Test func emptyAndWhitespaceTextHaveNoSentences() throws {
        #expect(try SentenceSplitter.sentenceRanges(in: "").isEmpty)
        #expect(try SentenceSplitter.sentenceRanges(in: " \n\t ").isEmpty)
    }

    @Test func offsetsAreUTF8Bytes() throws {
        let text = "Café au lait. Ünïcödé ünd 日本語のテキスト。Done."
        let ranges = try SentenceSplitter.sentenceRanges(in: text)
        let bytes = Array(text.utf8)
        #expect(ranges.map { String(decoding: bytes[$0], as: UTF8.self) } == ["Café au lait.", "Ünïcödé ünd 日本語のテキスト。", "Done."])
    }
}

@Suite struct ChunkerTests {
    /// Deterministic prose: sentences of varied length from a small vocabulary.
    static func prose(sentences: Int, seed: UInt64 = 42) -> (text: String, sentences: [String]) {
        let words = ["cache", "quantized", "weights", "attention", "the", "model", "decoding", "throughput", "of",
                     "latency", "batch", "retrieval", "a", "transformer", "memory", "bandwidth", "tokens", "index"]
        var state = seed
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var list: [String] = []
        for _ in 0..<sentences {
            let n = 4 + next() % 30
            var s = (0..<n).map { _ in words[next() % words.count] }.joined(separator: " ")
            s = s.prefix(1).uppercased() + s.dropFirst() + "."
            list.append(s)
        }
        return (list.joined(separator: " "), list)
    }

    @Test(arguments: [32, 64, 200])
    func everySentenceLandsInAChunkWithinBudget(budget: Int) throws {
        // Given 300 sentences of prose
        let (text, sentences) = Self.prose(sentences: 300)
        let chunker = Chunker(configuration: .init(tokenBudget: budget))
        // When chunked
        var chunks: [ChunkDraft] = []
        try chunker.chunk([Section(text: text)]) { chunks.append($0) }
        // Then no chunk exceeds the budget, ordinals count up, and every sentence is in some chunk
        #expect(chunks.allSatisfy { $0.tokenCount <= budget && $0.tokenCount == ApproximateTokenCounter().count($0.text) })
        #expect(chunks.map(\.ordinal) == Array(0..<chunks.count))
        // (a sentence over the budget is cut into pieces: its opening words must be there)
        let joined = chunks.map(\.text).joined(separator: "\n")
        let counter = ApproximateTokenCounter()
        let lost = sentences.filter { sentence in
            counter.count(sentence) <= budget
                ? !chunks.contains { $0.text.contains(sentence) }
                : !joined.contains(sentence.split(separator: " ").prefix(3).joined(separator: " "))
        }
        #expect(lost.isEmpty, "\(lost.count) sentences in no chunk")
        // and the span of each chunk is where its text is in the source
        let bytes = Array(text.utf8)
        for chunk in chunks {
            #expect(String(decoding: bytes[chunk.start..<chunk.end], as: UTF8.self) == chunk.text, "chunk \(chunk.ordinal) span")
        }
    }

    @Test func neighboursOverlapByASentence() throws {
        let (text, _) = Self.prose(sentences: 80)
        var chunks: [ChunkDraft] = []
        try Chunker(configuration: .init(tokenBudget: 200)).chunk([Section(text: text)]) { chunks.append($0) }
        #expect(chunks.count > 3)
        var overlapping = 0
        for (a, b) in zip(chunks, chunks.dropFirst()) where b.start < a.end { overlapping += 1 }
        #expect(overlapping >= chunks.count / 2)
    }

    @Test func isDeterministic() throws {
        let (text, _) = Self.prose(sentences: 120, seed: 7)
        var first: [ChunkDraft] = []
        var second: [ChunkDraft] = []
        let chunker = Chunker(configuration: .init(tokenBudget: 80))
        try chunker.chunk([Section(text: text)]) { first.append($0) }
        try chunker.chunk([Section(text: text)]) { second.append($0) }
        #expect(first == second)
    }

    @Test func chunksCarryTheirHeadingAndNeverCrossOne() throws {
        let sections = [
            Section(headings: ["Guide", "Install"], text: "Run make setup. It installs the libraries."),
            Section(headings: ["Guide", "Use"], text: "Run rag ingest. Then ask."),
        ]
        var chunks: [ChunkDraft] = []
        try Chunker().chunk(sections) { chunks.append($0) }
        #expect(chunks.map(\.heading) == ["Guide › Install", "Guide › Use"])
        #expect(chunks.map(\.text) == ["Run make setup. It installs the libraries.", "Run rag ingest. Then ask."])
        // Offsets count the blank line that joins sections.
        #expect(chunks[1].start == sections[0].text.utf8.count + 2)
    }

    @Test func overlongSentenceIsCutAtWordsAndHugeWordsAtCharacters() throws {
        let sentence = Array(repeating: "tokenization", count: 400).joined(separator: " ") + "."
        let blob = String(repeating: "QUJDRA", count: 2000)
        var chunks: [ChunkDraft] = []
        try Chunker(configuration: .init(tokenBudget: 50)).chunk([Section(text: sentence + " " + blob)]) { chunks.append($0) }
        #expect(chunks.allSatisfy { $0.tokenCount <= 50 && !$0.text.isEmpty })
        let words = chunks.filter { $0.text.contains("tokenization") }
        #expect(words.allSatisfy { $0.text.split(separator: " ").allSatisfy { $0 == "tokenization" || $0 == "tokenization." } })
        #expect(words.map { $0.text.split(separator: " ").count }.reduce(0, +) >= 400)
        let blobPieces = chunks.filter { !$0.text.contains("tokenization") }.map(\.text)
        #expect(blobPieces.joined() == blob, "the blob's pieces do not add up to it")
    }

    /// WordPiece counts any word over 100 characters as one [UNK]: with its count alone, a
    /// megabyte-long run of letters was one "1-token" chunk that every prompt retrieving it
    /// carried whole. Each chunk now also costs a token per 16 bytes.
    @Test func aMegabyteLongWordIsCutIntoChunksOfBoundedBytes() throws {
        struct UnknownLongWords: TokenCounter {
            var name: String { "unk" }
            func count(_ text: Substring) -> Int {
                text.split(whereSeparator: \.isWhitespace).reduce(0) { $0 + ($1.count > 100 ? 1 : ApproximateTokenCounter().count($1)) }
            }
        }
        let run = String(repeating: "abcdefghij", count: 100_000)
        var chunks: [ChunkDraft] = []
        try Chunker(counter: UnknownLongWords()).chunk([Section(text: "Short intro. " + run + " The end.")]) { chunks.append($0) }
        #expect(chunks.count > 300)
        // 16 bytes a token, and a joining space at most per piece.
        let largest = chunks.map(\.text.utf8.count).max() ?? 0
        #expect(largest <= 200 * Chunker.maxBytesPerToken + 8, "the largest chunk has \(largest) bytes")
        let letters = chunks.reduce(0) { $0 + $1.text.utf8.count(where: { $0 != 0x20 }) }
        #expect(letters >= run.utf8.count, "the chunks hold \(letters) letters; the run alone has \(run.utf8.count)")
    }

    @Test func emptySectionsGiveNoChunks() throws {
        var count = 0
        try Chunker().chunk([Section(text: ""), Section(headings: ["x"], text: "   \n ")]) { _ in count += 1 }
        #expect(count == 0)
    }
}
