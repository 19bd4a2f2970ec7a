public import Foundation
public import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import RAGCore

/// An error as the API returns it: `{"error":{"message":…,"type":…,"code":…}}` with a status
/// (the shape OpenAI's clients parse).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var code: String
    public var headers: HTTPFields = [:]
    /// For a server error, what happened in full (paths, the underlying error): logged, never
    /// sent — the client's message names only the reference that finds it in the log.
    public var detail: String?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String? = nil, code: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.type = type ?? Self.type(for: status)
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func type(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429, 503: "overloaded_error"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    static func badRequest(_ message: String, code: String = "invalid_request") -> APIError {
        APIError(.badRequest, message, code: code)
    }

    /// The API's view of any error a handler let through.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as RAGError:
            switch error.code {
            case .invalidInput: return APIError(.badRequest, error.message, code: "invalid_input")
            case .notFound: return APIError(.notFound, error.message, code: "not_found")
            case .unsupported: return APIError(.unsupportedMediaType, error.message, code: "unsupported_file_type")
            case .busy: return APIError(.serviceUnavailable, error.message, code: "index_busy", headers: [.retryAfter: "1"])
            case .model: return APIError(.serviceUnavailable, error.message, code: "model_unavailable")
            case .unavailable: return serverError(error.message, status: .badGateway, code: "generator_unavailable")
            default: return serverError(error.message)
            }
        case let error as DecodingError:
            return APIError(.badRequest, describe(error), code: "invalid_json")
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "the request body is larger than this route accepts", code: "body_too_large")
        case let error as HTTPError:
            return APIError(error.status, error.body ?? error.status.reasonPhrase, code: error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"))
        case is CancellationError:
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), "the request was cancelled", code: "cancelled")
        default:
            return serverError("\(error)")
        }
    }

    /// A 500 — or a 502 when a remote generator failed — whose message holds no path, address or
    /// raw error: only a reference to the log line with `detail`.
    static func serverError(_ detail: String, status: HTTPResponse.Status = .internalServerError, code: String = "internal_error") -> APIError {
        let reference = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let what = status == .internalServerError ? "internal error" : "the generator failed"
        var error = APIError(status, "\(what) (reference \(reference)): the server's log has the details", code: code)
        error.detail = "[\(reference)] \(detail)"
        return error
    }

    /// "field `top_k`: expected an integer" rather than Foundation's description.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? "." + snakeCase($0.stringValue) }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "field `\(path(context.codingPath))`: expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "field `\(path(context.codingPath))`: expected \(typeName(type)), found null"
        case .keyNotFound(let key, let context):
            return "missing field `\(path(context.codingPath + [key]))`"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return "field `\(path(context.codingPath))`: \(context.debugDescription)"
        @unknown default:
            return "the body does not match the expected JSON"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Float.Type, is Double.Type: "a number"
        default: String(describing: type).contains("Array") ? "an array" : "an object"
        }
    }

    static func snakeCase(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    /// The JSON body: `{"error":{"message":…,"type":…,"code":…}}`.
    struct Body: Encodable {
        struct Inner: Encodable { var message: String; var type: String; var code: String }
        var error: Inner
    }
    var body: Body { Body(error: .init(message: message, type: type, code: code)) }

    func response() -> Response {
        var response = JSON.response(status, body)
        for field in headers { response.headers.append(field) }
        return response
    }
}
