import Foundation
@testable import RAG
import RAGTesting
import Testing

@Suite(.onTestThreads) struct CitationCheckTests {
    let sources = [
        "Harbor stores its HNSW vector index inside a SQLite file named harbor.db, next to the chunks.",
        "Lantern is a caching proxy that listens on port 7070 and keeps entries for an hour.",
    ]

    @Test func markersThatPointToNoSourceAreRemoved() {
        let check = CitationCheck("Harbor keeps its index in harbor.db [1][3]. Lantern listens on port 7070 [2, 5].", sources: sources)
        #expect(check.text == "Harbor keeps its index in harbor.db [1]. Lantern listens on port 7070 [2].")
        #expect(check.removed == [3, 5])
        #expect(check.citations.map(\.n) == [1, 2] && check.citations.allSatisfy { !$0.added })
    }

    @Test func anUncitedSentenceFromOneSourceGetsItsMarker() {
        let check = CitationCheck("Harbor stores its vector index inside a SQLite file. Lantern is a caching proxy listening on port 7070!", sources: sources)
        #expect(check.text == "Harbor stores its vector index inside a SQLite file [1]. Lantern is a caching proxy listening on port 7070 [2]!")
        #expect(check.citations.map(\.n) == [1, 2] && check.citations.allSatisfy(\.added))
        // A sentence of general words is not attributed, nor is "I don't know".
        #expect(CitationCheck("It depends on many things.", sources: sources).citations.isEmpty)
        #expect(CitationCheck("I don't know.", sources: sources).text == "I don't know.")
    }

    /// A short extracted answer is cited by the first source that holds it word for word; a lone
    /// number, a fragment no source holds and a refusal are not.
    @Test func aFragmentASourceContainsIsCitedByIt() {
        #expect(CitationCheck("port 7070", sources: sources).text == "port 7070 [2]")
        #expect(CitationCheck("SQLite file.", sources: sources).text == "SQLite file [1].")
        #expect(CitationCheck("an hour", sources: sources).text == "an hour [2]")
        #expect(CitationCheck("7", sources: sources + ["7 days"]).citations.isEmpty)
        #expect(CitationCheck("port 8080", sources: sources).citations.isEmpty)
        // Its key words in one source but not in one run: cited; one key word missing: not.
        let similarity = sources + ["IFITM5 shares 68% and 66% sequence similarity to IFITM3 and IFITM2, respectively."]
        #expect(CitationCheck("68% and 66% similarity, respectively.", sources: similarity).text == "68% and 66% similarity, respectively [3].")
        #expect(CitationCheck("68% and 70% similarity.", sources: similarity).citations.isEmpty)
        #expect(CitationCheck("I don't know", sources: sources + ["I don't know"]).citations.isEmpty)
        #expect(Answerer.declines("I don't know.") && Answerer.declines("I do not know what Harbor is.") && Answerer.declines("I don’t know"))
        #expect(!Answerer.declines("I know that Harbor is fast."))
    }

    /// Spans are code-point offsets: the sentence a marker stands for and the marker itself.
    @Test func spansPointIntoTheAnswer() {
        let answer = "Größe: Harbor keeps its index in harbor.db [1]. Lantern uses port 7070. [2]"
        let check = CitationCheck(answer, sources: sources)
        #expect(check.text == answer)
        let scalars = Array(check.text.unicodeScalars)
        func slice(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(scalars[a..<b])) }
        #expect(check.citations.count == 2)
        let first = check.citations[0], second = check.citations[1]
        #expect(slice(first.markerStart, first.markerEnd) == "[1]" && slice(second.markerStart, second.markerEnd) == "[2]")
        #expect(slice(first.start, first.end) == "Größe: Harbor keeps its index in harbor.db [1].")
        #expect(slice(second.start, second.end) == "Lantern uses port 7070. [2]")
    }

    @Test func decimalsAndNumbersDoNotEndSentences() {
        #expect(CitationCheck.sentences("Version 3.5 is out. It works [1]. Done") == ["Version 3.5 is out. ", "It works [1]. ", "Done"])
    }
}
