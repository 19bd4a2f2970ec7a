import Foundation
import RAGCore
import RAGText
import Testing

/// multipart/form-data bodies as uploads send them.
@Suite struct MultipartTests {
    @Test func partsAndTheirFileNamesAreRead() throws {
        let body = Data("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r\\\"e.md\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n--XyZ--\r\n".utf8)
        let parts = try Multipart.parse(body, boundary: "XyZ")
        #expect(parts.count == 2 && parts[0].name == "a" && parts[0].filename == nil && parts[0].body == Data("value".utf8))
        #expect(parts[1].filename == "r\"e.md" && parts[1].body == Data("line 1\r\nline 2".utf8))
        #expect(Multipart.boundary("multipart/form-data; boundary=\"q q\"") == "q q")
        #expect(throws: RAGError.self) { try Multipart.parse(Data("no parts".utf8), boundary: "XyZ") }
    }

    /// A long boundary over a large body made the naive search quadratic (and it ran on the
    /// shared task pool): boundaries are at most 70 characters (RFC 2046), found by Horspool skips.
    @Test func boundariesAreBoundedAndTheSearchIsLinear() throws {
        let long = String(repeating: "a", count: 71)
        #expect(throws: RAGError.self) { try Multipart.parse(Data("--\(long)\r\n\r\nx\r\n--\(long)--".utf8), boundary: long) }
        let boundary = String(repeating: "a", count: 70)
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n".utf8)
        body.append(Data(repeating: UInt8(ascii: "a"), count: 8 << 20))
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        let parts = try Multipart.parse(body, boundary: boundary)
        #expect(parts.count == 1 && parts[0].body.count == 8 << 20 && parts[0].filename == "a.txt")
    }
}
