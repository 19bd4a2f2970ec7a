internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import RAG
internal import RAGCore
internal import RAGStorage

extension APIServer {
    struct DocumentOutput: Encodable {
        var id: Int64; var path: String; var title: String?; var format: String; var size: Int64; var chunks: Int
        var ingestedAt: Double

        init(_ d: DocumentRecord) {
            id = d.id.rawValue; path = d.path; title = d.title; format = d.format; size = d.size; chunks = d.chunkCount
            ingestedAt = d.ingestedAt
        }
    }

    /// `GET /v1/documents[?limit=N&offset=M]`.
    func listDocuments(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text = query[Substring(name)] else { return value }
            guard let n = Int(text), range.contains(n) else {
                throw APIError.badRequest("`\(name)` must be an integer between \(range.lowerBound) and \(range.upperBound)", code: "invalid_\(name)")
            }
            return n
        }
        let limit = try integer("limit", default: 1000, range: 1...10000)
        let offset = try integer("offset", default: 0, range: 0...Int(Int32.max))
        let documents = try await blocking { try self.store.documents() }
        struct Output: Encodable { var documents: [DocumentOutput]; var total: Int; var limit: Int; var offset: Int }
        let page = documents.dropFirst(offset).prefix(limit).map(DocumentOutput.init)
        return JSON.response(.ok, Output(documents: Array(page), total: documents.count, limit: limit, offset: offset))
    }

    /// `DELETE /v1/documents/{id}`: the document, its chunks and vectors, in one transaction.
    func deleteDocument(_ context: BasicRequestContext) async throws -> Response {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else {
            throw APIError.badRequest("the document id must be a positive integer (got \"\(text)\")", code: "invalid_id")
        }
        let service = self.service
        let removed: DocumentRecord = try await blocking {
            guard let document = try service.remove(id: DocumentID(rawValue: id)) else {
                throw APIError(.notFound, "no document with id \(id); GET /v1/documents lists them", code: "document_not_found")
            }
            return document
        }
        struct Output: Encodable { var deleted: DocumentOutput }
        return JSON.response(.ok, Output(deleted: DocumentOutput(removed)))
    }

    /// `POST /v1/documents`: `multipart/form-data` with one or more files, or the file itself as
    /// the body with its name in `?filename=` (or an `X-Filename` header). Files are checked
    /// first (type, size), then each is ingested in its own transaction.
    func upload(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: configuration.maxUploadBytes)
        let contentType = request.headers[.contentType] ?? ""
        var files: [(name: String, bytes: Data)] = []
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = Multipart.boundary(contentType) else {
                throw APIError.badRequest("multipart/form-data without a boundary", code: "invalid_multipart")
            }
            files = try Multipart.parse(Data(buffer.readableBytesView), boundary: boundary).compactMap { part in
                part.filename.map { ($0, part.body) }
            }
            guard !files.isEmpty else {
                throw APIError.badRequest("the form holds no file; send -F file=@NAME", code: "no_file")
            }
        } else {
            let name = request.uri.queryParameters["filename"].map(String.init) ?? request.headers[.init("X-Filename")!]
            guard let name, !name.isEmpty else {
                throw APIError.badRequest("name the file: multipart/form-data with a filename, or ?filename=NAME", code: "no_filename")
            }
            files = [(name.removingPercentEncoding ?? name, Data(buffer.readableBytesView))]
        }
        // Every file is checked before any is ingested: a bad one in a batch changes nothing.
        for file in files {
            guard let problem = Ingestor.uploadProblem(name: file.name, bytes: file.bytes) else { continue }
            switch problem {
            case .unsupportedType: throw APIError(.unsupportedMediaType, problem.message, code: "unsupported_file_type")
            case .empty: throw APIError.badRequest(problem.message, code: "empty_file")
            }
        }
        let service = self.service
        struct Item: Encodable { var name: String; var path: String; var status: String; var chunks: Int; var documents: [DocumentOutput] }
        var items: [Item] = []
        for file in files {
            let store = self.store
            let item: Item = try await blocking {
                let (report, path) = try service.ingest(upload: file.name, bytes: file.bytes)
                let status = report.unchanged > 0 ? "unchanged" : report.updated > 0 ? "updated" : "added"
                let documents = try store.documents(under: path).map(DocumentOutput.init)
                return Item(name: file.name, path: path, status: status, chunks: documents.reduce(0) { $0 + $1.chunks }, documents: documents)
            }
            items.append(item)
        }
        struct Output: Encodable { var files: [Item] }
        return JSON.response(items.contains { $0.status != "unchanged" } ? .created : .ok, Output(files: items))
    }
}

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
