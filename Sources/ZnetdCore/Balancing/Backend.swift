import Synchronization
import ZnetdConfig

/// One address connections can go to: a configured target, or one address of a hostname
/// target. Shared by every event loop; what relays read on each connection is in atomics.
///
/// Objects live as long as the backend is configured and resolvable, so a reload that keeps a
/// backend keeps its health and its connection count.
final class Backend: Sendable, CustomStringConvertible {
    enum Admission: UInt8 {
        /// Takes new connections (when healthy and not full).
        case open
        /// `disabled: true`, removed by a reload, or gone from DNS: no new connections.
        case draining
    }

    let address: SocketAddress
    /// The target entry this backend comes from (a hostname entry has one backend per address).
    let target: TargetAddress
    /// "10.0.0.1:80", or "app.internal:80 (10.0.0.1:80)" for an address of a hostname.
    let description: String
    /// Stable per address: what source hashing mixes with the client's address.
    let hashKey: UInt64

    private let weightValue: Atomic<Int>
    private let tierValue: Atomic<Int>
    /// 0: no limit.
    private let maximum: Atomic<Int>
    private let admissionValue: Atomic<UInt8>
    /// Connections open (or connecting) now.
    let active = Atomic<Int>(0)
    /// Mirrors of `health` for lock-free reads on every connection.
    private let upFlag = Atomic<Bool>(true)
    private let changedAtValue = Atomic<UInt64>(0)
    /// Failures counted since the last success: a success with nothing to reset takes no lock.
    private let unresolvedFailures = Atomic<Int>(0)
    /// When the last failure was recorded: a down backend's passive retry waits from here.
    private let lastFailureAtValue = Atomic<UInt64>(0)
    private let health = Mutex(BackendHealth())
    /// Why the last transition happened, for STATUS= and the journal.
    private let reasonText = Mutex("")

    init(address: SocketAddress, settings: BackendTarget) {
        self.address = address
        target = settings.address
        if case .inet(let host, _) = settings.address, SocketAddress(ip: host, port: 1) == nil {
            description = "\(settings.address) (\(address))"
        } else {
            description = "\(address)"
        }
        hashKey = fnv1a("\(address)".utf8)
        weightValue = Atomic(settings.weight)
        tierValue = Atomic(settings.tier)
        maximum = Atomic(settings.maxConnections ?? 0)
        admissionValue = Atomic(settings.disabled ? Admission.draining.rawValue : Admission.open.rawValue)
    }

    var weight: Int { weightValue.load(ordering: .relaxed) }
    var tier: Int { tierValue.load(ordering: .relaxed) }
    var maxConnections: Int? {
        let value = maximum.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
    var admission: Admission { Admission(rawValue: admissionValue.load(ordering: .relaxed))! }
    var isUp: Bool { upFlag.load(ordering: .relaxed) }
    /// When it last went up or down (monotonic ns).
    var changedAt: UInt64 { changedAtValue.load(ordering: .relaxed) }
    var reason: String { reasonText.withLock { $0 } }
    var lastFailureAt: UInt64 { lastFailureAtValue.load(ordering: .relaxed) }
    var isFull: Bool {
        let limit = maximum.load(ordering: .relaxed)
        return limit > 0 && active.load(ordering: .relaxed) >= limit
    }

    /// New settings from a reload (the address is the same).
    func apply(_ settings: BackendTarget) {
        weightValue.store(settings.weight, ordering: .relaxed)
        tierValue.store(settings.tier, ordering: .relaxed)
        maximum.store(settings.maxConnections ?? 0, ordering: .relaxed)
        setAdmission(settings.disabled ? .draining : .open)
    }

    func setAdmission(_ admission: Admission) {
        admissionValue.store(admission.rawValue, ordering: .relaxed)
    }

    // MARK: Connection slots

    /// Takes a slot, or returns false when the backend is at its max_connections.
    func tryReserve() -> Bool {
        let limit = maximum.load(ordering: .relaxed)
        if limit == 0 {
            active.add(1, ordering: .relaxed)
            return true
        }
        var count = active.load(ordering: .relaxed)
        while count < limit {
            let (exchanged, original) = active.compareExchange(
                expected: count, desired: count + 1, ordering: .relaxed)
            if exchanged { return true }
            count = original
        }
        return false
    }

    func release() {
        active.subtract(1, ordering: .relaxed)
    }

    // MARK: Health

    /// Up with no failure counted: a success changes nothing (the common case, lock-free).
    var isSettledUp: Bool {
        unresolvedFailures.load(ordering: .relaxed) == 0 && upFlag.load(ordering: .relaxed)
    }

    /// Records a check or connect result; returns the new state when it changed.
    func record(success: Bool, rise: Int, fall: Int, now: UInt64, reason: @autoclosure () -> String) -> Bool? {
        if success && isSettledUp { return nil }
        if success {
            unresolvedFailures.store(0, ordering: .relaxed)
        } else {
            unresolvedFailures.add(1, ordering: .relaxed)
            lastFailureAtValue.store(now, ordering: .relaxed)
        }
        let changed = health.withLock { health -> Bool? in
            guard health.record(success: success, rise: rise, fall: fall, now: now) else { return nil }
            upFlag.store(health.isUp, ordering: .relaxed)
            changedAtValue.store(now, ordering: .relaxed)
            return health.isUp
        }
        if changed != nil { reasonText.withLock { $0 = reason() } }
        return changed
    }
}

/// FNV-1a, 64 bits: a small stable hash (Swift's Hasher is seeded per process).
func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return hash
}

/// A 64-bit mixer (splitmix64's finaliser): spreads nearby inputs over the whole range.
func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
}
