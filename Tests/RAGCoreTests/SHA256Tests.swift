import RAGCore
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func streamingInOddPiecesEqualsOneShot() {
        // A million 'a's: the FIPS 180-2 long-message vector, fed in pieces that straddle blocks.
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            bytes[offset..<end].withUnsafeBytes { hasher.update($0) }
            offset = end
            step = step * 3 % 1000 + 1
        }
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct TokenCounterTests {
    @Test func countsAddUpOverWhiteSpaceJoinedPieces() {
        let counter = ApproximateTokenCounter()
        let pieces = ["Quantization,", "e.g.", "int8 (fast)", "日本語", "naïve", "x", "supercalifragilistic"]
        #expect(counter.count(pieces.joined(separator: " ")) == pieces.map { counter.count($0) }.reduce(0, +))
        #expect(counter.count("") == 0)
        #expect(counter.count("the cat") == 2)
        #expect(counter.count("日本") == 2)
    }

    @Test func formatsFollowFileNames() {
        #expect(DocumentFormat(fileName: "a.MD") == .markdown)
        #expect(DocumentFormat(fileName: "page.htm") == .html)
        #expect(DocumentFormat(fileName: ".hidden") == nil)
        #expect(DocumentFormat(fileName: "Makefile") == nil)
    }
}
