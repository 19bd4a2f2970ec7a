internal import Foundation
internal import HTTPTypes

/// A request body's media type, as the checks made without an API key read it. A web page on
/// another site can make the browser post `text/plain`, `application/x-www-form-urlencoded`
/// and `multipart/form-data` bodies without asking the server first; any other type (JSON, say)
/// needs the server's CORS approval, which rag never gives. So without a key the JSON routes
/// take only JSON, and a raw upload only a type a form cannot send (multipart uploads are
/// left to the Origin check).
enum ContentType {
    /// `Text/Plain; charset=utf-8` → `text/plain`.
    static func mediaType(_ value: String?) -> String? {
        guard let value else { return nil }
        let type = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = type.trimmingCharacters(in: .whitespaces).lowercased()
        return trimmed.isEmpty ? nil : trimmed
    }

    static func isJSON(_ value: String?) -> Bool {
        guard let type = mediaType(value) else { return false }
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    /// The types a cross-site form (or a no-cors fetch) sends without the server's approval.
    static let formTypes: Set<String> = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]

    static func requireJSON(_ value: String?) throws {
        guard !isJSON(value) else { return }
        throw APIError(
            .unsupportedMediaType,
            "send the body with Content-Type: application/json (got \(mediaType(value) ?? "none")); without an API key the server takes no other type on this route, so that web pages cannot post to it",
            code: "unsupported_content_type")
    }

    /// A raw upload (the file as the body) without a key: the type must be one a form cannot send.
    static func requireRawUpload(_ value: String?) throws {
        guard let type = mediaType(value), !formTypes.contains(type) else {
            throw APIError(
                .unsupportedMediaType,
                "a raw upload needs a Content-Type such as application/octet-stream or the file's own (text/markdown, application/pdf; got \(mediaType(value) ?? "none")), or send it as multipart/form-data (curl -F file=@NAME); without an API key the server refuses the types a web form can send",
                code: "unsupported_content_type")
        }
    }
}
