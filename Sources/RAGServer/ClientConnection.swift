internal import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import Glibc
internal import Synchronization

/// The client's TCP connection as a route sees it. Its closing cancels the work done for it (a
/// hang-up frees a queued place and stops a generation, streamed or not), and a write to it
/// that does not finish in time closes it (a client that stops reading holds nothing for long).
struct ClientConnection: Sendable {
    let channel: any Channel

    /// Runs `operation` in a task that is cancelled when the connection closes (or when the
    /// calling task is).
    func cancelledOnHangUp<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await operation() }
        let watch = whenClosed { task.cancel() }
        defer { watch.forget() }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    /// Calls `action` when the connection closes, unless the watch is forgotten first. A
    /// keep-alive connection holds its watches until it closes: once forgotten, each is an
    /// empty box, not the task its action would cancel.
    func whenClosed(_ action: @escaping @Sendable () -> Void) -> CloseWatch {
        let watch = CloseWatch(action)
        channel.closeFuture.whenComplete { _ in watch.fire() }
        return watch
    }

    final class CloseWatch: Sendable {
        private let action: Mutex<(@Sendable () -> Void)?>
        init(_ action: @escaping @Sendable () -> Void) { self.action = Mutex(action) }
        func fire() { take()?() }
        func forget() { _ = take() }
        private func take() -> (@Sendable () -> Void)? {
            action.withLock { action in
                defer { action = nil }
                return action
            }
        }
    }

    /// Runs `write` (one write to this connection); if it has not finished after `timeout`, the
    /// connection is reset, which fails it. (Reset, not closed: a close would keep the unread
    /// bytes in the kernel and go on sending them to a client that does not read.)
    func resetting<T>(after timeout: Duration, onTimeout: @escaping @Sendable () -> Void, _ write: () async throws -> T) async throws -> T {
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            onTimeout()
            guard let socket = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
        defer { deadline.cancel() }
        return try await write()
    }

    /// A response body writer whose every write finishes within `timeout` or resets the connection.
    struct DeadlineWriter: ResponseBodyWriter {
        var base: any ResponseBodyWriter
        let connection: ClientConnection
        let timeout: Duration
        let onTimeout: @Sendable () -> Void

        mutating func write(_ buffer: ByteBuffer) async throws {
            try await connection.resetting(after: timeout, onTimeout: onTimeout) { try await base.write(buffer) }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
            let base = self.base
            try await connection.resetting(after: timeout, onTimeout: onTimeout) { try await base.finish(trailingHeaders) }
        }
    }
}
