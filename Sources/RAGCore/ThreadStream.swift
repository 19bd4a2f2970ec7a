public import Foundation
internal import Synchronization

/// Blocking work on a thread of its own (8 MiB stack), seen as an async stream of what it
/// yields; dropping the stream or cancelling its consumer makes `cancelled` true.
public enum ThreadStream {
    public static func make<Element: Sendable>(
        _ body: @escaping @Sendable (_ yield: @escaping (Element) -> Void, _ cancelled: @escaping () -> Bool) throws -> Void
    ) -> AsyncThrowingStream<Element, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Element.self, throwing: (any Error).self)
        let flag = CancelFlag()
        continuation.onTermination = { _ in flag.set() }
        let thread = Thread {
            ThreadPriority.applyBackground()
            do {
                try body({ continuation.yield($0) }, { flag.isSet })
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }
}

/// A cancel flag shared between the stream's termination handler and the generating thread.
public final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .relaxed) }
    public var isSet: Bool { value.load(ordering: .relaxed) }
}
