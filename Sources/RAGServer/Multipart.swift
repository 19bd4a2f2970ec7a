internal import Foundation

/// `multipart/form-data` (RFC 7578): parts split at the boundary, their headers read for the
/// field name and file name.
enum Multipart {
    struct Part {
        var name: String?
        var filename: String?
        var body: Data
    }

    static func boundary(_ contentType: String) -> String? {
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

    static func parse(_ data: Data, boundary: String) throws -> [Part] {
        let delimiter = Data("--\(boundary)".utf8)
        let bytes = [UInt8](data)
        var parts: [Part] = []
        guard var at = find(Array(delimiter), in: bytes, from: 0) else {
            throw APIError.badRequest("the multipart body has no part with the boundary given", code: "invalid_multipart")
        }
        let next = Array("\r\n--\(boundary)".utf8)
        while true {
            var cursor = at + delimiter.count
            if bytes.count >= cursor + 2, bytes[cursor] == UInt8(ascii: "-"), bytes[cursor + 1] == UInt8(ascii: "-") { break }  // closing delimiter
            // Skip the rest of the delimiter line.
            guard let lineEnd = find([13, 10], in: bytes, from: cursor) else { break }
            cursor = lineEnd + 2
            guard let headerEnd = find([13, 10, 13, 10], in: bytes, from: cursor) else {
                throw APIError.badRequest("a multipart part has no end of headers", code: "invalid_multipart")
            }
            let headers = String(decoding: bytes[cursor..<headerEnd], as: UTF8.self)
            let bodyStart = headerEnd + 4
            guard let end = find(next, in: bytes, from: bodyStart) else {
                throw APIError.badRequest("a multipart part is not closed by the boundary", code: "invalid_multipart")
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

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
