import Logging
import Synchronization
import ZnetdConfig

/// The backends of one service, shared by every event loop: which exist (targets, and every
/// address of each hostname target), their health, their connection counts, and the choice of
/// one for each new connection.
///
/// Relays read an immutable snapshot under a small lock and count connections with atomics.
/// Everything that changes the set (a reload, a DNS answer) builds a new snapshot; a backend
/// that stays keeps its object, and so its health and its connections. One that goes stops
/// taking connections and its open ones finish (drain).
final class BackendSet: Sendable {
    enum Choice {
        /// Connect here; a slot is reserved (give it back with `Backend.release()`).
        case backend(Backend)
        /// Hostnames are being resolved: the waiter runs when they are.
        case wait
        case unavailable(String)
    }

    /// One configured target: its settings and the backends it stands for now.
    private struct Entry {
        var settings: BackendTarget
        var backends: [Backend]
        /// A hostname: resolved on a thread, again every resolve_interval.
        var isHostname: Bool
        var resolving = false
        var hasAnswer = false
        var failure: (reason: String, at: UInt64)?
    }

    private struct State {
        var entries: [Entry] = []
        var balancing = Balancing.standard
        /// Every admitting backend, sorted by tier (stable: in the order written).
        var snapshot: [Backend] = []
        var waiters: [any Waiter] = []
        /// Hooks set by the daemon once the control loop runs.
        var hooks: Hooks?
        /// The service was removed: no more DNS refreshes.
        var retired = false
    }

    /// What the set needs from the daemon: its control loop for timers, and a way to close the
    /// connections of a backend.
    struct Hooks: Sendable {
        var schedule: @Sendable (_ after: UInt64, _ action: @escaping @Sendable () -> Void) -> Void
        var closeConnections: @Sendable (_ matching: @escaping @Sendable (Backend) -> Bool, _ reason: String) -> Void
    }

    /// A connection waiting for hostnames to resolve; told once they have (on any thread).
    protocol Waiter: AnyObject, Sendable {
        func backendsChanged()
    }

    private let state = Mutex(State())
    private let counter = Atomic<UInt64>(0)
    private let currentTier = Atomic<Int>(0)
    /// The configuration's drain_timeout, for backends that drain (set by the daemon).
    let drainTimeout = Atomic<UInt64>(Configuration.defaultDrainTimeout.nanoseconds)
    let logger: Logger
    /// Retry a hostname that failed to resolve after this long (when a client asks).
    static let failureHoldTime: UInt64 = 1_000_000_000

    init(targets: [BackendTarget], balancing: Balancing, logger: Logger) {
        self.logger = logger
        update(targets: targets, balancing: balancing)
    }

    var balancing: Balancing { state.withLock { $0.balancing } }
    var backends: [Backend] { state.withLock { $0.snapshot } }

    /// Connects the set to the daemon (timers, closing connections); resolution refreshes start.
    func attach(_ hooks: Hooks) {
        state.withLock { $0.hooks = hooks }
        scheduleRefresh()
    }

    // MARK: Choosing

    /// A backend for a new connection from `client`, not one of `tried`.
    func choose(client: SocketAddress?, tried: [Backend], now: UInt64, waiter: any Waiter) -> Choice {
        let (backends, balancing) = state.withLock { ($0.snapshot, $0.balancing) }
        let health = balancing.health
        var selection = BackendSelection(
            policy: balancing.policy, now: now, failbackAfter: balancing.failbackAfter.nanoseconds,
            passiveRetryAfter: health.probe == nil ? health.interval.nanoseconds : nil,
            currentTier: currentTier.load(ordering: .relaxed),
            client: client.flatMap(\.ipBytes).map { fnv1a($0) } ?? 0,
            ticket: counter.wrappingAdd(1, ordering: .relaxed).oldValue)
        var excluded = tried
        // A backend that filled up between the choice and the reservation: choose again.
        for _ in 0..<4 {
            guard let backend = selection.choose(from: backends, excluding: excluded) else { break }
            if backend.tryReserve() {
                // A retry that lands on a worse tier is not a failover: the tier is still up.
                if tried.isEmpty { noteTier(backend.tier) }
                return .backend(backend)
            }
            excluded.append(backend)
            selection.ticket = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        }
        return unavailable(now: now, waiter: waiter)
    }

    private func unavailable(now: UInt64, waiter: any Waiter) -> Choice {
        enum Next { case wait([Int]), fail(String) }
        let next = state.withLock { s -> Next in
            // Hostnames without an answer yet: wait for them rather than refuse.
            let pending = s.entries.indices.filter { index in
                let entry = s.entries[index]
                guard entry.isHostname, entry.backends.isEmpty, !entry.settings.disabled else { return false }
                if entry.resolving { return true }
                return entry.failure.map { now &- $0.at >= BackendSet.failureHoldTime } ?? true
            }
            if !pending.isEmpty {
                s.waiters.append(waiter)
                let start = pending.filter { !s.entries[$0].resolving }
                for index in start { s.entries[index].resolving = true }
                return .wait(start)
            }
            let failures = s.entries.compactMap { entry -> String? in
                guard entry.backends.isEmpty, let failure = entry.failure else { return nil }
                return failure.reason
            }
            if !failures.isEmpty && s.snapshot.isEmpty { return .fail(failures.joined(separator: "; ")) }
            return .fail(BackendSet.describeUnavailable(s.snapshot))
        }
        switch next {
        case .wait(let start):
            for index in start { resolve(entry: index) }
            return .wait
        case .fail(let reason):
            return .unavailable(reason)
        }
    }

    private static func describeUnavailable(_ backends: [Backend]) -> String {
        guard !backends.isEmpty else { return "no backend takes connections (all disabled or draining)" }
        let down = backends.filter { !$0.isUp }.count
        let full = backends.filter { $0.isFull }.count
        return "no backend available: \(backends.count) backends, \(down) down, \(full) at max_connections"
    }

    /// Logs a move between tiers; a failback may close connections to worse tiers.
    private func noteTier(_ tier: Int) {
        let previous = currentTier.exchange(tier, ordering: .relaxed)
        guard previous != tier else { return }
        if tier > previous {
            logger.warning("failing over from tier \(previous) to tier \(tier)", metadata: ["tier": "\(tier)"])
        } else {
            logger.notice("failing back from tier \(previous) to tier \(tier)", metadata: ["tier": "\(tier)"])
            let (force, hooks) = state.withLock { ($0.balancing.failbackForce, $0.hooks) }
            if force, let hooks {
                let open = backends.filter { $0.tier > tier }.reduce(0) { $0 + $1.active.load(ordering: .relaxed) }
                logger.notice("failback_force: closing \(open) connections to tiers above \(tier)")
                hooks.closeConnections({ $0.tier > tier }, "failback to tier \(tier) (failback_force)")
            }
        }
    }

    // MARK: Health

    /// A connect attempt's result (passive check).
    func connectFinished(_ backend: Backend, failure: String?, now: UInt64) {
        record(backend, success: failure == nil, now: now, reason: failure.map { "connect failed: \($0)" } ?? "connected")
    }

    /// A check or connect result; logs transitions with ZNETD_BACKEND and the reason.
    func record(_ backend: Backend, success: Bool, now: UInt64, reason: String) {
        if success && backend.isSettledUp { return }
        let health = state.withLock { $0.balancing.health }
        guard let up = backend.record(success: success, rise: health.rise, fall: health.fall, now: now,
                                      reason: reason) else { return }
        let metadata: Logger.Metadata = ["backend": "\(backend)", "reason": "\(reason)"]
        if up {
            logger.notice("backend \(backend) is up: \(reason)", metadata: metadata)
        } else {
            logger.warning("backend \(backend) is down: \(reason)", metadata: metadata)
        }
    }

    // MARK: Changes

    /// Takes new targets and settings (at start and on reload). Unchanged targets keep their
    /// backends; removed ones drain.
    func update(targets: [BackendTarget], balancing: Balancing) {
        let (retired, disabled, toResolve) = state.withLock { s -> ([Backend], [Backend], [Int]) in
            var old = s.entries
            var entries: [Entry] = []
            var disabled: [Backend] = []
            for settings in targets {
                if let index = old.firstIndex(where: { $0.settings.address == settings.address }) {
                    var entry = old.remove(at: index)
                    entry.settings = settings
                    for backend in entry.backends {
                        if settings.disabled && backend.admission == .open { disabled.append(backend) }
                        backend.apply(settings)
                    }
                    entries.append(entry)
                } else {
                    entries.append(BackendSet.entry(for: settings))
                }
            }
            s.entries = entries
            s.balancing = balancing
            s.snapshot = BackendSet.snapshot(of: entries)
            let toResolve = entries.indices.filter {
                entries[$0].isHostname && !entries[$0].hasAnswer && !entries[$0].resolving
            }
            for index in toResolve { s.entries[index].resolving = true }
            return (old.flatMap(\.backends), disabled, toResolve)
        }
        for backend in retired { startDraining(backend, why: "removed from the configuration") }
        for backend in disabled { startDraining(backend, why: "disabled") }
        for index in toResolve { resolve(entry: index) }
    }

    /// Every backend of a removed service drains.
    func retire() {
        let all = state.withLock { s -> [Backend] in
            let all = s.entries.flatMap(\.backends)
            s.entries = []
            s.snapshot = []
            s.retired = true
            return all
        }
        for backend in all { backend.setAdmission(.draining) }
    }

    private static func entry(for settings: BackendTarget) -> Entry {
        switch settings.address {
        case .unix(let path):
            let backends = SocketAddress(unixPath: path).map { [Backend(address: $0, settings: settings)] } ?? []
            return Entry(settings: settings, backends: backends, isHostname: false, hasAnswer: true)
        case .inet(let host, let port):
            if let address = SocketAddress(ip: host, port: port) {
                return Entry(settings: settings, backends: [Backend(address: address, settings: settings)],
                             isHostname: false, hasAnswer: true)
            }
            return Entry(settings: settings, backends: [], isHostname: true)
        case .program:
            // Each connection runs the program (see DestinationProgram): no fixed backends.
            return Entry(settings: settings, backends: [], isHostname: false, hasAnswer: true)
        }
    }

    /// Every backend of `entries` (disabled ones too, for the status), sorted by tier.
    private static func snapshot(of entries: [Entry]) -> [Backend] {
        let all = entries.flatMap(\.backends)
        return all.enumerated().sorted { a, b in
            (a.element.tier, a.offset) < (b.element.tier, b.offset)
        }.map(\.element)
    }

    /// `backend` takes no new connections; its open ones get the drain timeout, then are closed.
    private func startDraining(_ backend: Backend, why: String) {
        backend.setAdmission(.draining)
        let open = backend.active.load(ordering: .relaxed)
        guard let hooks = state.withLock({ $0.hooks }) else { return }
        logger.notice("backend \(backend) drains (\(why)): \(open) connections open",
                      metadata: ["backend": "\(backend)", "reason": "\(why)"])
        guard open > 0 else { return }
        let timeout = drainTimeout.load(ordering: .relaxed)
        hooks.schedule(timeout) { [self] in
            guard backend.admission == .draining, backend.active.load(ordering: .relaxed) > 0 else { return }
            logger.warning("drain timeout: closing \(backend.active.load(ordering: .relaxed)) connections to backend \(backend)",
                           metadata: ["backend": "\(backend)"])
            hooks.closeConnections({ $0 === backend }, "backend \(backend) removed (\(why))")
        }
    }

    // MARK: DNS

    /// Resolves hostname entry `index` on a thread of its own (`resolving` is already set).
    private func resolve(entry index: Int) {
        let settings = state.withLock { $0.entries.indices.contains(index) ? $0.entries[index].settings : nil }
        guard let settings, case .inet(let host, let port) = settings.address else { return }
        do {
            try LoopThread.spawn(name: "znetd-resolve") { [self] in
                finishResolving(settings.address, TargetEndpoints.resolve(host: host, port: port))
            }
        } catch {
            finishResolving(settings.address, .failure(.init(host: host, reason: "\(error)")))
        }
    }

    private func finishResolving(_ target: TargetAddress,
                                 _ result: Result<[SocketAddress], TargetEndpoints.ResolutionError>) {
        let now = MonotonicClock.now()
        let (waiters, added, removed) = state.withLock { s -> ([any Waiter], [Backend], [Backend]) in
            guard let index = s.entries.firstIndex(where: { $0.settings.address == target }) else {
                return ([], [], [])
            }
            s.entries[index].resolving = false
            var added: [Backend] = [], removed: [Backend] = []
            switch result {
            case .success(let addresses):
                let entry = s.entries[index]
                s.entries[index].hasAnswer = true
                s.entries[index].failure = nil
                var backends: [Backend] = []
                for address in addresses {
                    if let kept = entry.backends.first(where: { $0.address == address }) {
                        backends.append(kept)
                    } else {
                        let backend = Backend(address: address, settings: entry.settings)
                        backends.append(backend)
                        added.append(backend)
                    }
                }
                removed = entry.backends.filter { old in !addresses.contains(old.address) }
                s.entries[index].backends = backends
                s.snapshot = BackendSet.snapshot(of: s.entries)
            case .failure(let error):
                // Keep serving the last answer rather than none.
                s.entries[index].failure = ("\(error)", now)
            }
            let waiters = s.waiters
            s.waiters.removeAll()
            return (waiters, added, removed)
        }
        if case .failure(let error) = result {
            logger.warning("\(error)", metadata: ["target": "\(target)"])
        } else if !added.isEmpty || !removed.isEmpty {
            logger.notice("\(target) resolves to \(backends.filter { $0.target == target }.map { "\($0.address)" }.joined(separator: ", "))",
                          metadata: ["target": "\(target)"])
        }
        for backend in removed { startDraining(backend, why: "no longer in DNS") }
        for waiter in waiters { waiter.backendsChanged() }
    }

    /// Resolves every hostname again each resolve_interval, on the control loop's timer.
    private func scheduleRefresh() {
        guard let (hooks, interval) = state.withLock({ s in
            s.retired ? nil : s.hooks.map { ($0, s.balancing.resolveInterval) }
        }) else { return }
        hooks.schedule(interval.nanoseconds) { [weak self] in
            guard let self else { return }
            let start = state.withLock { s -> [Int] in
                let start = s.entries.indices.filter { s.entries[$0].isHostname && !s.entries[$0].resolving }
                for index in start { s.entries[index].resolving = true }
                return start
            }
            for index in start { resolve(entry: index) }
            scheduleRefresh()
        }
    }

    // MARK: Status

    /// "3/4 up" and the tier in use when it is not the first; nil for a plain single target.
    var statusText: String? {
        let backends = self.backends
        guard backends.count > 1 || backends.contains(where: { !$0.isUp }) else { return nil }
        let up = backends.filter { $0.isUp && $0.admission == .open }.count
        let tier = currentTier.load(ordering: .relaxed)
        let down = backends.filter { !$0.isUp }.map { "\($0.address)" }
        var text = "\(up)/\(backends.count) backends up"
        if tier > 0 { text += ", tier \(tier)" }
        if !down.isEmpty { text += ", down: " + down.joined(separator: " ") }
        return text
    }
}
