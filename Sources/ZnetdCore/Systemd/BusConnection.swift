import CSystemd
import CZnetdLinux
import Glibc

/// A connection to the system bus, driven by an EventLoop instead of blocking calls.
///
/// sd-bus does the protocol; this class only tells it when to work: the bus descriptor is
/// registered level-triggered with the events `sd_bus_get_events` asks for (re-registered
/// whenever they change), a loop timer fires at `sd_bus_get_timeout`, and each round calls
/// `sd_bus_process` until it has nothing left to do. Connecting is asynchronous too: the
/// socket connect, the authentication and Hello all happen in those rounds, and calls made
/// meanwhile are queued by sd-bus.
///
/// Replies and signals are delivered on the loop's thread. Every call gets exactly one reply:
/// the answer, an error reply, or (when the connection goes away) a synthesized error.
/// Confined to the loop's thread.
final class BusConnection: EventSource {
    let loop: EventLoop
    private var bus: OpaquePointer?
    private let fd: Int32
    private var registeredEvents: UInt32?
    private var timer: LoopTimer?
    private var timerDeadline: UInt64 = .max
    private var roundScheduled = false
    private var processing = false
    private var closeRequested = false
    private var matches: [ObjectIdentifier: BusMatch] = [:]
    fileprivate var pendingReplies: [ObjectIdentifier: PendingReply] = [:]
    /// Became ready (authenticated, Hello answered) at some point.
    private(set) var wasReady = false
    /// Called once when the connection is gone (closed by the peer or failed), not after `close()`.
    var onClose: ((UnitError) -> Void)?

    /// Starts connecting to the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else the standard
    /// socket). Throws only if that fails at once, e.g. when the socket does not exist; a
    /// connection not ready (authenticated, Hello answered) within `timeout` is closed, and
    /// its calls fail with a `.noBus` error (sd-bus itself would wait up to 90 s).
    static func connectSystem(loop: EventLoop, timeout: Duration, description: String = "znetd")
        throws(UnitError) -> BusConnection
    {
        var bus: OpaquePointer?
        let r = sd_bus_open_system_with_description(&bus, description)
        guard r >= 0, let bus else { throw UnitError.noBus(errno: -r) }
        let fd = sd_bus_get_fd(bus)
        guard fd >= 0 else {
            sd_bus_close_unref(bus)
            throw UnitError.noBus(errno: -fd)
        }
        return BusConnection(loop: loop, bus: bus, fd: fd, timeout: timeout)
    }

    private init(loop: EventLoop, bus: OpaquePointer, fd: Int32, timeout: Duration) {
        self.loop = loop
        self.bus = bus
        self.fd = fd
        super.init()
        rearm()
        scheduleRound()
        loop.schedule(after: timeout.nanoseconds) { [weak self] in
            guard let self, self.bus != nil, !self.wasReady else { return }
            self.close(because: .noBus(errno: ETIMEDOUT))
        }
    }

    var isOpen: Bool { bus != nil && !closeRequested }

    // MARK: Calls and matches

    /// Builds a method call on this connection.
    func methodCall(path: String, interface: String, member: String) throws(UnitError) -> BusMessage {
        guard let bus, !closeRequested else { throw UnitError.disconnected("the connection is closed") }
        return try BusMessage.methodCall(on: bus, path: path, interface: interface, member: member)
    }

    /// Sends `message`; `reply` gets the answer or an error, exactly once, on the loop's thread.
    /// `timeout`: microseconds, 0 for sd-bus's default (25 s).
    func call(_ message: BusMessage, timeout: UInt64 = 0,
              reply: @escaping (Result<BusMessage, UnitError>) -> Void) {
        guard let bus, !closeRequested else {
            deliverLater(reply, .failure(.disconnected("the connection is closed")))
            return
        }
        let pending = PendingReply(connection: self, reply: reply)
        let userdata = Unmanaged.passRetained(pending).toOpaque()
        var slot: OpaquePointer?
        let r = sd_bus_call_async(bus, &slot, message.pointer, BusConnection.replyHandler, userdata, timeout)
        guard r >= 0, let slot else {
            Unmanaged<PendingReply>.fromOpaque(userdata).release()
            deliverLater(reply, .failure(r == -ENOTCONN || r == -ECONNRESET
                ? .disconnected(errnoDescription(-r))
                : .local("sd_bus_call_async", errno: -r)))
            return
        }
        // The bus owns the slot from now on; the box is released when sd-bus frees the slot
        // (after the reply, or when the connection goes away without one).
        sd_bus_slot_set_destroy_callback(slot, BusConnection.releasePendingReply)
        sd_bus_slot_set_floating(slot, 1)
        sd_bus_slot_unref(slot)
        pendingReplies[ObjectIdentifier(pending)] = pending
        scheduleRound()
    }

    private static let replyHandler: sd_bus_message_handler_t = { message, userdata, _ in
        let pending = Unmanaged<PendingReply>.fromOpaque(userdata!).takeUnretainedValue()
        guard let message else { return 0 }
        pending.deliver(pending.connection?.result(of: BusMessage(retaining: message))
            ?? .failure(.disconnected("the connection is closed")))
        return 1
    }

    private static let releasePendingReply: sd_bus_destroy_t = { userdata in
        let pending = Unmanaged<PendingReply>.fromOpaque(userdata!).takeRetainedValue()
        if !pending.delivered, let connection = pending.connection {
            // Freed without a reply: the connection was closed under it.
            pending.delivered = true
            connection.deliverLater(pending.reply, .failure(.disconnected("the connection was closed")))
        }
        pending.connection?.pendingReplies.removeValue(forKey: ObjectIdentifier(pending))
    }

    /// A reply as a result: error replies become UnitErrors; the ones sd-bus makes up when the
    /// connection breaks say so.
    private func result(of message: BusMessage) -> Result<BusMessage, UnitError> {
        guard let error = message.error else { return .success(message) }
        if let bus, sd_bus_is_open(bus) <= 0 {
            return .failure(wasReady
                ? .disconnected(error.message)
                : UnitError(kind: .noBus, message: "cannot connect to the system bus: \(error.message)"))
        }
        return .failure(error)
    }

    /// Calls `handler` with every signal that matches, until the match is cancelled.
    /// nil arguments match anything.
    func matchSignal(sender: String?, path: String?, interface: String?, member: String?,
                     handler: @escaping (BusMessage) -> Void) throws(UnitError) -> BusMatch {
        guard let bus, !closeRequested else { throw UnitError.disconnected("the connection is closed") }
        let match = BusMatch(connection: self, handler: handler)
        let userdata = Unmanaged.passRetained(match).toOpaque()
        var slot: OpaquePointer?
        let r = sd_bus_match_signal_async(bus, &slot, sender, path, interface, member,
                                          BusConnection.signalHandler, nil, userdata)
        guard r >= 0, let slot else {
            Unmanaged<BusMatch>.fromOpaque(userdata).release()
            throw UnitError.local("sd_bus_match_signal_async \(member ?? "*")", errno: -r)
        }
        sd_bus_slot_set_destroy_callback(slot, BusConnection.releaseMatch)
        match.slot = slot
        matches[ObjectIdentifier(match)] = match
        scheduleRound()
        return match
    }

    private static let signalHandler: sd_bus_message_handler_t = { message, userdata, _ in
        let match = Unmanaged<BusMatch>.fromOpaque(userdata!).takeUnretainedValue()
        if let message, match.slot != nil { match.handler(BusMessage(retaining: message)) }
        return 0  // let other matches see it too
    }

    private static let releaseMatch: sd_bus_destroy_t = { userdata in
        Unmanaged<BusMatch>.fromOpaque(userdata!).release()
    }

    fileprivate func forget(_ match: BusMatch) {
        matches.removeValue(forKey: ObjectIdentifier(match))
    }

    // MARK: Driving sd-bus

    override func handle(events: UInt32, side: Int) {
        processRound()
    }

    /// Runs a processing round soon (after something was queued for sending).
    func scheduleRound() {
        guard !roundScheduled, bus != nil else { return }
        roundScheduled = true
        loop.schedule(after: 0) { [weak self] in
            guard let self else { return }
            self.roundScheduled = false
            self.processRound()
        }
    }

    private func processRound() {
        guard let bus, !processing else { return }
        processing = true
        var failure: Int32 = 0
        while !closeRequested {
            let r = sd_bus_process(bus, nil)
            if r < 0 {
                failure = -r
                break
            }
            if !wasReady, sd_bus_is_ready(bus) > 0 { wasReady = true }
            if r == 0 { break }
        }
        processing = false
        if closeRequested {
            teardown(nil)
        } else if failure != 0 {
            // ENOTCONN: sd-bus has delivered every synthesized reply and closed.
            teardown(wasReady
                ? .disconnected(failure == ENOTCONN ? "connection closed" : errnoDescription(failure))
                : .noBus(errno: failure == ENOTCONN ? ECONNREFUSED : failure))
        } else {
            rearm()
        }
    }

    /// Watches the events sd-bus wants and sets the timer it asks for.
    private func rearm() {
        guard let bus else { return }
        let wanted = sd_bus_get_events(bus)
        if wanted < 0 {
            scheduleRound()  // closing: let the next round finish it
            return
        }
        var mask: UInt32 = 0
        if wanted & Int32(POLLIN) != 0 { mask |= ZNETD_EPOLLIN }
        if wanted & Int32(POLLOUT) != 0 { mask |= ZNETD_EPOLLOUT }
        if registeredEvents != mask {
            if registeredEvents != nil { loop.unregister(fd) }
            // Level-triggered: a round that stops early is called again.
            loop.register(fd, source: self, side: 0, events: mask)
            registeredEvents = mask
        }
        var usec: UInt64 = 0
        let deadline: UInt64
        if sd_bus_get_timeout(bus, &usec) >= 0, usec != .max {
            deadline = usec == 0 ? 0 : usec &* 1_000
        } else {
            deadline = .max
        }
        if deadline != timerDeadline {
            timer?.cancel()
            timer = nil
            timerDeadline = deadline
            if deadline != .max {
                timer = loop.schedule(after: deadline > loop.now ? deadline - loop.now : 0) { [weak self] in
                    guard let self else { return }
                    self.timer = nil
                    self.timerDeadline = .max
                    self.processRound()
                }
            }
        }
    }

    // MARK: Closing

    /// Closes the connection. Calls still waiting get a "connection closed" error.
    func close() {
        if processing {
            closeRequested = true
        } else {
            teardown(nil)
        }
    }

    /// Closes the connection as if it failed: waiting calls and `onClose` get `error`.
    private func close(because error: UnitError) {
        guard !processing else { return }  // timers do not run inside a processing round
        teardown(error)
    }

    private func teardown(_ error: UnitError?) {
        guard let bus else { return }
        self.bus = nil
        closeRequested = true
        if registeredEvents != nil { loop.unregister(fd) }
        registeredEvents = nil
        timer?.cancel()
        timer = nil
        for match in Array(matches.values) { match.cancel() }
        // Calls still waiting are answered now (sd-bus frees their slots only with the bus,
        // which messages kept elsewhere may keep alive).
        let waiting = pendingReplies.values.filter { !$0.delivered }
        pendingReplies.removeAll()
        let failure = error ?? .disconnected("the connection was closed")
        for pending in waiting {
            pending.delivered = true
            deliverLater(pending.reply, .failure(failure))
        }
        sd_bus_close_unref(bus)
        loop.release(self)
        if let error, let onClose {
            self.onClose = nil
            onClose(error)
        }
    }

    fileprivate func deliverLater(_ reply: @escaping (Result<BusMessage, UnitError>) -> Void,
                                  _ result: Result<BusMessage, UnitError>) {
        loop.schedule(after: 0) { reply(result) }
    }
}

/// The box behind one pending call's userdata.
private final class PendingReply {
    weak var connection: BusConnection?
    let reply: (Result<BusMessage, UnitError>) -> Void
    var delivered = false

    init(connection: BusConnection, reply: @escaping (Result<BusMessage, UnitError>) -> Void) {
        self.connection = connection
        self.reply = reply
    }

    func deliver(_ result: Result<BusMessage, UnitError>) {
        guard !delivered else { return }
        delivered = true
        connection?.pendingReplies.removeValue(forKey: ObjectIdentifier(self))
        reply(result)
    }
}

/// A signal match; `cancel()` removes it (and tells the bus to stop routing it to us).
final class BusMatch {
    fileprivate weak var connection: BusConnection?
    fileprivate let handler: (BusMessage) -> Void
    fileprivate var slot: OpaquePointer?

    fileprivate init(connection: BusConnection, handler: @escaping (BusMessage) -> Void) {
        self.connection = connection
        self.handler = handler
    }

    func cancel() {
        guard let slot else { return }
        self.slot = nil
        connection?.forget(self)
        // Frees the slot: sd-bus sends RemoveMatch, then the destroy callback releases us.
        sd_bus_slot_unref(slot)
        connection?.scheduleRound()
    }
}
