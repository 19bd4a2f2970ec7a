internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import RAGCore

/// `GET /`: the web page (`WebPage`, its style sheet inlined) and its script, and
/// `GET /openapi.json`, the API's description. They need no API key (the page asks for one when
/// the API answers 401) and may only load from this origin (CSP; the inline style sheet is
/// allowed by its hash).
struct PageController: Controller {
    let state: ServerState

    /// Paths served without the API key.
    static let publicPaths: Set<String> = ["/", "/assets/app.js", "/openapi.json"]

    var endpoints: [Endpoint] {
        let description = state.apiDescription.json
        return [
            .get("/") { _, _ in Self.file(WebPage.document, type: "text/html; charset=utf-8") },
            .get("/assets/app.js") { _, _ in Self.file(WebPage.script, type: "text/javascript; charset=utf-8") },
            .get("/openapi.json") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: description)))
            },
        ]
    }

    /// The CSP source of the inline style sheet: 'sha256-BASE64'.
    static let styleHash: String = {
        let hex = Array(SHA256.hex(Array(WebPage.style.utf8)).utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        let digest = stride(from: 0, to: hex.count, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
        return "'sha256-" + Data(digest).base64EncodedString() + "'"
    }()

    static func file(_ text: String, type: String) -> Response {
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-cache"]
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'self'; script-src 'self'; style-src 'self' \(styleHash); img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
