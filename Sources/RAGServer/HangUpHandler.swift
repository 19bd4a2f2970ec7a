internal import NIOCore

/// Closes the connection when the client closes its side of it. The server allows half-closed
/// connections, which leaves a hang-up unnoticed until the next write; HTTP clients do not
/// half-close while they wait for a response, so the end of their input means they are gone,
/// and closing makes the work done for them stop (`ClientConnection.cancelledOnHangUp`).
final class HangUpHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
