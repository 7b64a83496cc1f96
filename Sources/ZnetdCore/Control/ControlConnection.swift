import Glibc

/// One client of the control socket: newline-delimited JSON, one request a line, one reply
/// a line, in order.
///
/// The peer's credentials are read once, at accept (SO_PEERCRED), and every request is
/// checked against them. A connection may stay open after its requests: `register --wait`
/// ties a registration to it, and the handler hears when it closes.
final class ControlConnection: ControlPlaneConnection {
    let peer: PeerCredentials
    private unowned let handler: any ControlHandler

    init(fd: Int32, loop: EventLoop, peer: PeerCredentials, handler: any ControlHandler) {
        self.peer = peer
        self.handler = handler
        super.init(fd: fd, loop: loop)
    }

    override func received() {
        while let newline = input.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(input[..<newline])
            input.removeSubrange(...newline)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            let reply: JSONValue
            do {
                reply = handler.handle(try JSONParser.parse(line), from: self)
            } catch {
                reply = ControlReply.failure("\(error)")
            }
            send(reply.encoded + "\n")
            if closed { return }
        }
    }

    override func requestTooLarge() {
        send(ControlReply.failure("request longer than \(Self.maximumRequest) bytes").encoded + "\n")
        finish()
    }

    override func connectionClosed() {
        handler.controlConnectionClosed(self)
    }
}

/// What answers the control socket's requests (the daemon).
protocol ControlHandler: AnyObject {
    /// The reply to one request.
    func handle(_ request: JSONValue, from connection: ControlConnection) -> JSONValue
    /// The client went away (a `register --wait` registration ends with it).
    func controlConnectionClosed(_ connection: ControlConnection)
}

/// Replies of the control protocol: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
public enum ControlReply {
    public static func success(_ fields: [(String, JSONValue)] = []) -> JSONValue {
        .object([("ok", .bool(true))] + fields)
    }

    public static func failure(_ message: String) -> JSONValue {
        .object([("ok", .bool(false)), ("error", .string(message))])
    }
}
