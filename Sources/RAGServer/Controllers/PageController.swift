internal import HTTPTypes
internal import Hummingbird
internal import NIOCore

/// `GET /`: the web page (`WebPage`), its script and its style sheet. They need no API key (the
/// page asks for one when the API answers 401) and may only load from this origin (CSP).
struct PageController: Controller {
    /// Paths served without the API key.
    static let publicPaths: Set<String> = ["/", "/assets/app.js", "/assets/app.css"]

    var endpoints: [Endpoint] {
        [
            .get("/") { _, _ in Self.file(WebPage.html, type: "text/html; charset=utf-8") },
            .get("/assets/app.js") { _, _ in Self.file(WebPage.script, type: "text/javascript; charset=utf-8") },
            .get("/assets/app.css") { _, _ in Self.file(WebPage.style, type: "text/css; charset=utf-8") },
        ]
    }

    static func file(_ text: String, type: String) -> Response {
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-cache"]
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
