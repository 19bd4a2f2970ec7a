internal import Foundation
internal import Hummingbird
internal import NIOCore
internal import RAG
internal import RAGCore
internal import RAGStorage
internal import RAGText

/// `GET /v1/documents` (a page of them), `POST /v1/documents` (upload and ingest files) and
/// `DELETE /v1/documents/{id}`.
struct DocumentsController: Controller {
    let state: ServerState

    var endpoints: [Endpoint] {
        [.get("/v1/documents", list), .post("/v1/documents", upload), .delete("/v1/documents/{id}", delete), .get("/v1/chunks/{id}", chunk)]
    }

    struct Document: Encodable {
        var id: Int64; var path: String; var title: String?; var format: String; var size: Int64; var chunks: Int
        var ingestedAt: Double
        /// `KEY=VALUE` strings, as a filter takes them (an object's keys would be rewritten by
        /// the snake-case encoding).
        var tags: [String]

        init(_ d: DocumentRecord) {
            id = d.id.rawValue; path = d.path; title = d.title; format = d.format; size = d.size; chunks = d.chunkCount
            ingestedAt = d.ingestedAt
            tags = d.tags.tagPairs.map { "\($0.key)=\($0.value)" }
        }
    }

    struct Page: ResponseEncodable { var documents: [Document]; var total: Int; var limit: Int; var offset: Int }

    /// `GET /v1/documents[?limit=N&offset=M]`.
    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Page {
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
        let store = state.store
        let documents = try await state.blocking { try store.documents() }
        let page = documents.dropFirst(offset).prefix(limit).map(Document.init)
        return Page(documents: Array(page), total: documents.count, limit: limit, offset: offset)
    }

    struct Deleted: ResponseEncodable { var deleted: Document }

    /// `DELETE /v1/documents/{id}`: the document, its chunks and vectors, in one transaction.
    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Deleted {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else {
            throw APIError.badRequest("the document id must be a positive integer (got \"\(text)\")", code: "invalid_id")
        }
        let service = state.service
        let removed: DocumentRecord = try await state.blocking {
            guard let document = try service.remove(id: DocumentID(rawValue: id)) else {
                throw APIError(.notFound, "no document with id \(id); GET /v1/documents lists them", code: "document_not_found")
            }
            return document
        }
        await state.indexChanged()
        return Deleted(deleted: Document(removed))
    }

    struct Neighbour: Encodable { var ordinal: Int; var heading: String; var text: String }
    struct Chunk: ResponseEncodable {
        var chunkId: Int64; var document: String; var heading: String; var ordinal: Int; var text: String
        var previous: Neighbour?; var next: Neighbour?
    }

    /// `GET /v1/chunks/{id}`: a chunk (a citation's `chunk_id`) with its document's path and the
    /// chunks before and after it.
    @Sendable func chunk(_ request: Request, context: APIRequestContext) async throws -> Chunk {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else {
            throw APIError.badRequest("the chunk id must be a positive integer (got \"\(text)\")", code: "invalid_id")
        }
        let store = state.store
        return try await state.blocking {
            guard let hit = try store.hits([(ChunkID(rawValue: id), 0)]).first else {
                throw APIError(.notFound, "no chunk with id \(id) (its document may have been removed or changed)", code: "chunk_not_found")
            }
            let all = try store.chunks(documentPath: hit.document)
            func neighbour(_ ordinal: Int) -> Neighbour? {
                all.first { $0.ordinal == ordinal }.map { Neighbour(ordinal: $0.ordinal, heading: $0.heading, text: $0.text) }
            }
            return Chunk(
                chunkId: id, document: hit.document, heading: hit.heading, ordinal: hit.ordinal, text: hit.text,
                previous: neighbour(hit.ordinal - 1), next: neighbour(hit.ordinal + 1))
        }
    }

    struct Uploaded: Encodable { var name: String; var path: String; var status: String; var chunks: Int; var documents: [Document] }

    struct Uploads: ResponseEncodable { var files: [Uploaded] }

    /// `POST /v1/documents`: `multipart/form-data` with one or more files, or the file itself as
    /// the body with its name in `?filename=` (or an `X-Filename` header). Files are checked
    /// first (type, size), then each is ingested in its own transaction: 201 when one was added
    /// or changed, 200 when all were already there.
    @Sendable func upload(_ request: Request, context: APIRequestContext) async throws -> EditedResponse<Uploads> {
        let files = try await files(of: request, limit: state.configuration.maxUploadBytes, refusingFormTypes: context.refusesFormContentTypes)
        // Every file is checked before any is ingested: a bad one in a batch changes nothing.
        for file in files {
            guard let problem = Ingestor.uploadProblem(name: file.name, bytes: file.bytes) else { continue }
            switch problem {
            case .unsupportedType: throw APIError(.unsupportedMediaType, problem.message, code: "unsupported_file_type")
            case .empty: throw APIError.badRequest(problem.message, code: "empty_file")
            }
        }
        let service = state.service, store = state.store
        var uploaded: [Uploaded] = []
        for file in files {
            uploaded.append(try await state.blocking {
                let (report, path): (IngestReport, String)
                do {
                    (report, path) = try service.ingest(upload: file.name, bytes: file.bytes)
                } catch let error as RAGError where error.code == .corruptFile {
                    // A file that is not what its name says (a damaged PDF): the client's to fix.
                    throw APIError(.unprocessableContent, error.message, code: "unreadable_file")
                }
                let status = report.unchanged > 0 ? "unchanged" : report.updated > 0 ? "updated" : "added"
                let documents = try store.documents(under: path).map(Document.init)
                return Uploaded(name: file.name, path: path, status: status, chunks: documents.reduce(0) { $0 + $1.chunks }, documents: documents)
            })
        }
        await state.indexChanged()
        return EditedResponse(status: uploaded.contains { $0.status != "unchanged" } ? .created : .ok, response: Uploads(files: uploaded))
    }

    /// The files of an upload: the form's file parts, or the body named by `?filename=` /
    /// `X-Filename` (without an API key, with a Content-Type a web form cannot send).
    func files(of request: Request, limit: Int, refusingFormTypes: Bool) async throws -> [(name: String, bytes: Data)] {
        var request = request
        let contentType = request.headers[.contentType] ?? ""
        let multipart = contentType.lowercased().hasPrefix("multipart/form-data")
        if refusingFormTypes && !multipart { try ContentType.requireRawUpload(request.headers[.contentType]) }
        let buffer = try await request.collectBody(upTo: limit)
        if multipart {
            guard let boundary = Multipart.boundary(contentType) else {
                throw APIError.badRequest("multipart/form-data without a boundary", code: "invalid_multipart")
            }
            // Off the concurrency pool: a large body is parsed while the other routes go on.
            let body = Data(buffer.readableBytesView)
            let parts: [Multipart.Part]
            do {
                parts = try await state.blocking { try Multipart.parse(body, boundary: boundary) }
            } catch let error as RAGError {
                throw APIError.badRequest(error.message, code: "invalid_multipart")
            }
            let files = parts.compactMap { part in part.filename.map { (name: $0, bytes: part.body) } }
            guard !files.isEmpty else {
                throw APIError.badRequest("the form holds no file; send -F file=@NAME", code: "no_file")
            }
            return files
        }
        let name = request.uri.queryParameters["filename"].map(String.init) ?? request.headers[.init("X-Filename")!]
        guard let name, !name.isEmpty else {
            throw APIError.badRequest("name the file: multipart/form-data with a filename, or ?filename=NAME", code: "no_filename")
        }
        return [(name.removingPercentEncoding ?? name, Data(buffer.readableBytesView))]
    }
}
