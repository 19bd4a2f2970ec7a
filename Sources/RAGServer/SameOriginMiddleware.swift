internal import Foundation
internal import HTTPTypes
internal import Hummingbird

/// Without an API key, a web page the operator visits could drive the server: a cross-site form
/// posts to it (browsers send such "simple" requests without asking), and DNS rebinding makes a
/// hostile name resolve to 127.0.0.1 so that the page can read the answers. So, when no key is
/// set: the Host must name this machine (an IP address, `localhost`, the `--host` name or the
/// machine's name), and a request that carries an Origin must come from that same host. Clients
/// that are not browsers send no Origin and are not affected. (With a key, a browser cannot
/// send the Authorization header to another origin without a CORS approval, which rag never gives.)
/// Bodies must also have a type a cross-site form cannot send (`ContentType`), checked where
/// they are read.
struct SameOriginMiddleware: RouterMiddleware {
    /// Host names accepted besides IP addresses and `localhost`.
    let names: Set<String>

    init(host: String) {
        var names: Set<String> = ["localhost", host.lowercased()]
        names.insert(ProcessInfo.processInfo.hostName.lowercased())
        self.names = names
    }

    func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        // HTTP/1's Host arrives as the request's authority (a Host field only where a test sets one).
        let host = request.headers[HTTPField.Name("Host")!] ?? request.head.authority
        if let host, !allowed(Self.hostName(host)) {
            throw APIError(
                .forbidden, "the Host header names \(host), not this machine: refused (DNS rebinding). Use 127.0.0.1 or localhost, or set --api-key",
                code: "host_not_allowed")
        }
        if let origin = request.headers[HTTPField.Name("Origin")!] {
            let authority = URL(string: origin).flatMap { url in url.host.map { $0 + (url.port.map { ":\($0)" } ?? "") } }
            guard let authority, let host, authority.lowercased() == host.lowercased() else {
                throw APIError(.forbidden, "a request from the web page at \(origin) to this server: refused (cross-origin)", code: "cross_origin")
            }
        }
        var context = context
        context.refusesFormContentTypes = true
        return try await next(request, context)
    }

    func allowed(_ name: String) -> Bool {
        names.contains(name) || name.hasSuffix(".localhost") || Self.isIPAddress(name)
    }

    /// The name part of a Host header: `[::1]:8080` → `::1`, `Example:80` → `example`.
    static func hostName(_ host: String) -> String {
        let lowered = host.lowercased()
        if lowered.hasPrefix("["), let end = lowered.firstIndex(of: "]") { return String(lowered[lowered.index(after: lowered.startIndex)..<end]) }
        return String(lowered.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}
