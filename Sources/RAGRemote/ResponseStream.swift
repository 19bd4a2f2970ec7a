import Foundation

/// One HTTP response as it arrives, handed from the task that receives it to a thread that waits
/// on it (a generation runs on a thread of its own): the status, then the body line by line
/// (server-sent events are lines), then the end.
///
/// The waiting side wakes every `poll` seconds to ask whether its caller has given up, and gives
/// up itself when nothing has arrived for `idleTimeout` seconds.
final class ResponseStream: @unchecked Sendable {
    enum Event {
        /// The status and the `Retry-After` header, if any.
        case head(status: Int, retryAfter: String?)
        case line(String)
        /// The body ended: nil when whole, else why not.
        case end((any Error)?)
        /// Nothing arrived for `idleTimeout` seconds.
        case idle
        case cancelled
    }

    private let condition = NSCondition()
    private var head: (status: Int, retryAfter: String?)?
    private var headTaken = false
    private var pending: [UInt8] = []
    private var ended = false
    private var failure: (any Error)?
    private var lastArrival = DispatchTime.now()

    // MARK: The receiving side

    func receive(status: Int, retryAfter: String?) {
        condition.withLock {
            head = (status, retryAfter)
            lastArrival = .now()
            condition.signal()
        }
    }

    func receive<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        condition.withLock {
            pending.append(contentsOf: bytes)
            lastArrival = .now()
            condition.signal()
        }
    }

    func finish(_ error: (any Error)?) {
        condition.withLock {
            ended = true
            failure = error
            condition.signal()
        }
    }

    // MARK: The waiting side

    /// The next event; `idle` when nothing came for `idleTimeout` seconds.
    func next(idleTimeout: Double, poll: Double = 0.05, cancelled: () -> Bool) -> Event {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if !headTaken, let head {
                headTaken = true
                return .head(status: head.status, retryAfter: head.retryAfter)
            }
            if let line = takeLine() { return .line(line) }
            if ended {
                if !pending.isEmpty {
                    // A last line without its newline.
                    let rest = String(decoding: pending, as: UTF8.self)
                    pending.removeAll()
                    return .line(rest)
                }
                return .end(failure)
            }
            if cancelled() { return .cancelled }
            if Double(DispatchTime.now().uptimeNanoseconds - lastArrival.uptimeNanoseconds) / 1e9 > idleTimeout { return .idle }
            _ = condition.wait(until: Date().addingTimeInterval(poll))
        }
    }

    /// The body read to its end (an error's explanation), at most about `limit` bytes.
    func rest(idleTimeout: Double, limit: Int = 65_536, cancelled: () -> Bool) -> String {
        var lines: [String] = []
        var size = 0
        while size < limit, case .line(let line) = next(idleTimeout: idleTimeout, cancelled: cancelled) {
            lines.append(line)
            size += line.utf8.count
        }
        return lines.joined(separator: "\n")
    }

    private func takeLine() -> String? {
        guard headTaken, let newline = pending.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var end = newline
        if end > 0, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeSubrange(...newline)
        return text
    }
}
