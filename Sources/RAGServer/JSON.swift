internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import NIOCore

/// JSON in and out: snake-case keys, sorted, slashes unescaped.
enum JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    static func data(_ value: some Encodable) -> Data {
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func response(_ status: HTTPResponse.Status = .ok, _ value: some Encodable) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data(value))))
    }

    /// Decodes a request body; an empty body, malformed JSON and wrong types are 400s that say what.
    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request body is empty; send a JSON object", code: "empty_body") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(.badRequest, APIError.describe(error), code: "invalid_json")
        }
    }
}

/// Request bodies as the API reads them (`JSON.decode`), up to the context's limit.
struct APIRequestDecoder: RequestDecoder {
    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        try JSON.decode(T.self, from: try await Self.body(of: request, context: context))
    }

    /// The body's bytes (JSON only where the context refuses forms), up to the context's limit:
    /// for a handler that reads part of the body as written (a JSON schema's own keys).
    static func body(of request: Request, context: some RequestContext) async throws -> ByteBuffer {
        if (context as? APIRequestContext)?.refusesFormContentTypes == true {
            try ContentType.requireJSON(request.headers[.contentType])
        }
        return try await request.body.collect(upTo: context.maxUploadSize)
    }
}

/// Handler results as the API writes them (`JSON.response`).
struct APIResponseEncoder: ResponseEncoder {
    func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        JSON.response(.ok, value)
    }
}
