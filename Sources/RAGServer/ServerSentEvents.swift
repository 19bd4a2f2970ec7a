internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import NIOCore

/// Server-Sent Events: one event's bytes, and a streamed response of them.
enum ServerSentEvents {
    static let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]

    /// `event: NAME` (when named) and `data: JSON`.
    static func event(_ name: String?, _ value: some Encodable) -> ByteBuffer {
        var text = name.map { "event: \($0)\n" } ?? ""
        text += "data: " + String(decoding: JSON.data(value), as: UTF8.self) + "\n\n"
        return ByteBuffer(string: text)
    }

    /// A response whose `events` are produced through `send`; if they throw, the error goes out
    /// as the event `failure` makes of it, and the stream ends either way.
    ///
    /// Producing never waits for the client: events are queued (an answer's are bounded by its
    /// tokens) and written as fast as the client reads, so a slow reader holds its connection,
    /// not the generator. A client that hangs up, or stops reading for the write timeout,
    /// cancels the production at once.
    static func response(
        connection: ClientConnection,
        logger: Logger,
        failure: @escaping @Sendable (APIError) -> ByteBuffer,
        _ events: @escaping @Sendable (_ send: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Void
    ) -> Response {
        Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let (queued, queue) = AsyncStream.makeStream(of: ByteBuffer.self)
            let producer = Task {
                do {
                    try await events { queue.yield($0) }
                } catch {
                    let api = APIError.from(error)
                    if let detail = api.detail { logger.error("stream: \(detail)") }
                    queue.yield(failure(api))
                }
                queue.finish()
            }
            let watch = connection.whenClosed { producer.cancel() }
            defer { watch.forget() }
            do {
                try await withTaskCancellationHandler {
                    for await event in queued { try await writer.write(event) }
                } onCancel: {
                    producer.cancel()
                }
            } catch {
                producer.cancel()
                throw error
            }
            try await writer.finish(nil)
        })
    }
}
