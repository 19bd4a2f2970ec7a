internal import HTTPTypes
internal import Hummingbird
internal import NIOCore

/// Server-Sent Events: one event's bytes, and a streamed response of them.
enum ServerSentEvents {
    static let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]

    /// `event: NAME` (when named) and `data: JSON`.
    static func event(_ name: String?, _ value: some Encodable) -> ByteBuffer {
        var text = name.map { "event: \($0)\n" } ?? ""
        text += "data: " + String(decoding: JSON.data(value), as: UTF8.self) + "\n\n"
        return ByteBuffer(string: text)
    }

    /// A response whose `events` write through `send`; if they throw, the error goes out as the
    /// event `failure` makes of it, and the stream ends either way. (A write to a client that
    /// hung up fails, which stops a generation at its next token.)
    static func response(
        failure: @escaping @Sendable (APIError) -> ByteBuffer,
        _ events: @escaping @Sendable (_ send: (ByteBuffer) async throws -> Void) async throws -> Void
    ) -> Response {
        Response(status: .ok, headers: headers, body: ResponseBody { writer in
            do {
                try await events { try await writer.write($0) }
            } catch {
                try? await writer.write(failure(APIError.from(error)))
            }
            try await writer.finish(nil)
        })
    }
}
