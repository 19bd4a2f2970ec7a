public import Foundation
public import RAGCore

/// `multipart/form-data` (RFC 7578): parts split at the boundary, their headers read for the
/// field name and file name. Linear in the body: the boundary is at most 70 characters (RFC
/// 2046), searched for with Horspool's skips.
public enum Multipart {
    public struct Part: Sendable {
        public var name: String?
        public var filename: String?
        public var body: Data
    }

    public static let maxBoundaryLength = 70

    public static func boundary(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("boundary=") {
                let value = pair.dropFirst("boundary=".count)
                let unquoted = value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? value.dropFirst().dropLast() : value
                return unquoted.isEmpty ? nil : String(unquoted)
            }
        }
        return nil
    }

    /// Throws `.invalidInput` for a body that is not multipart with this boundary.
    public static func parse(_ data: Data, boundary: String) throws -> [Part] {
        guard boundary.utf8.count <= maxBoundaryLength else {
            throw RAGError(.invalidInput, "the multipart boundary has \(boundary.utf8.count) characters; at most \(maxBoundaryLength) are allowed (RFC 2046)")
        }
        let delimiter = Data("--\(boundary)".utf8)
        let bytes = [UInt8](data)
        var parts: [Part] = []
        guard var at = find(Array(delimiter), in: bytes, from: 0) else {
            throw RAGError(.invalidInput, "the multipart body has no part with the boundary given")
        }
        let next = Array("\r\n--\(boundary)".utf8)
        while true {
            var cursor = at + delimiter.count
            if bytes.count >= cursor + 2, bytes[cursor] == UInt8(ascii: "-"), bytes[cursor + 1] == UInt8(ascii: "-") { break }  // closing delimiter
            // Skip the rest of the delimiter line.
            guard let lineEnd = find([13, 10], in: bytes, from: cursor) else { break }
            cursor = lineEnd + 2
            guard let headerEnd = find([13, 10, 13, 10], in: bytes, from: cursor) else {
                throw RAGError(.invalidInput, "a multipart part has no end of headers")
            }
            let headers = String(decoding: bytes[cursor..<headerEnd], as: UTF8.self)
            let bodyStart = headerEnd + 4
            guard let end = find(next, in: bytes, from: bodyStart) else {
                throw RAGError(.invalidInput, "a multipart part is not closed by the boundary")
            }
            var part = Part(body: Data(bytes[bodyStart..<end]))
            for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                part.name = parameter("name", in: String(line))
                part.filename = parameter("filename", in: String(line))
            }
            parts.append(part)
            at = end + 2
        }
        return parts
    }

    /// `name="value"` out of a Content-Disposition line.
    static func parameter(_ key: String, in line: String) -> String? {
        for piece in line.split(separator: ";").dropFirst() {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix(key + "=") else { continue }
            var value = pair.dropFirst(key.count + 1)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value).replacingOccurrences(of: "\\\"", with: "\"")
        }
        return nil
    }

    /// Horspool: compare the window's last byte first and skip by where that byte last occurs
    /// in the needle; at most needle-length work per byte of the haystack.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        let m = needle.count
        guard m > 0, start >= 0, haystack.count - start >= m else { return nil }
        var skip = [Int](repeating: m, count: 256)
        for k in 0..<(m - 1) { skip[Int(needle[k])] = m - 1 - k }
        var i = start
        let last = haystack.count - m
        while i <= last {
            let tail = haystack[i + m - 1]
            if tail == needle[m - 1] {
                var k = m - 2
                while k >= 0, haystack[i + k] == needle[k] { k -= 1 }
                if k < 0 { return i }
            }
            i += skip[Int(tail)]
        }
        return nil
    }
}
