import Synchronization

/// A client waiting in a ``ServiceGate``: a relay, or a request on a shared HTTP listener.
/// The gate calls back on the client's own loop.
protocol HeldClient: AnyObject, Sendable {
    var worker: Worker { get }
    /// The backend is ready: go on.
    func released()
    /// The backend could not be woken.
    func refused(_ reason: String)
}

/// Admission of new connections to an on-demand service.
///
/// Open while the backend is ready. Otherwise (asleep, waking, stopping) clients are held
/// here, up to `max_pending`, and the first one held asks the supervisor to wake the
/// backend. Every decision is made under one lock with the open/closed flag, so no client can
/// slip past a gate that is closing or be forgotten by one that is opening.
public final class ServiceGate: Sendable {
    public enum Admission { case proceed, held, rejected }

    private struct State {
        var isOpen: Bool
        var held: [any HeldClient] = []
        var maxPending: Int
    }

    private let state: Mutex<State>
    private let firstHeld = Mutex<(@Sendable () -> Void)?>(nil)

    init(open: Bool, maxPending: Int = .max) {
        state = Mutex(State(isOpen: open, maxPending: maxPending))
    }

    /// Called (from any thread) when a client is held while none was.
    func onFirstHeld(_ hook: @escaping @Sendable () -> Void) {
        firstHeld.withLock { $0 = hook }
    }

    var isOpen: Bool { state.withLock { $0.isOpen } }
    public var pending: Int { state.withLock { $0.held.count } }

    func setMaxPending(_ limit: Int) {
        state.withLock { $0.maxPending = limit }
    }

    func admit(_ relay: any HeldClient) -> Admission {
        let (admission, first) = state.withLock { s -> (Admission, Bool) in
            if s.isOpen { return (.proceed, false) }
            if s.held.count >= s.maxPending { return (.rejected, false) }
            s.held.append(relay)
            return (.held, s.held.count == 1)
        }
        if first { firstHeld.withLock { $0 }?() }
        return admission
    }

    /// Asks for the backend without holding a client (hand-off: the backend accepts itself).
    func requestWake() {
        firstHeld.withLock { $0 }?()
    }

    /// Opens the gate and hands back everyone who was waiting.
    func open() -> [any HeldClient] {
        state.withLock { s in
            s.isOpen = true
            defer { s.held.removeAll() }
            return s.held
        }
    }

    func close() {
        state.withLock { $0.isOpen = false }
    }

    /// Takes back everyone waiting (the wake-up failed); the gate stays closed.
    func takeAll() -> [any HeldClient] {
        state.withLock { s in
            defer { s.held.removeAll() }
            return s.held
        }
    }

    /// A held client gives up (its start_timeout passed). False if the gate already released it.
    func withdraw(_ relay: any HeldClient) -> Bool {
        state.withLock { s in
            guard let index = s.held.firstIndex(where: { $0 === relay }) else { return false }
            s.held.remove(at: index)
            return true
        }
    }
}
