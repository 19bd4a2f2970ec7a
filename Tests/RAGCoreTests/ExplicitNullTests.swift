import Foundation
import RAGCore
import Testing

@Suite struct ExplicitNullTests {
    struct Record: Encodable {
        @ExplicitNull var rank: Int?
        var score: Double?
    }

    @Test func nilIsAnExplicitNullWhereAPlainOptionalIsLeftOut() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(Record(rank: nil, score: nil)), as: UTF8.self) == #"{"rank":null}"#)
        #expect(String(decoding: try encoder.encode(Record(rank: 3, score: 0.5)), as: UTF8.self) == #"{"rank":3,"score":0.5}"#)
    }
}
