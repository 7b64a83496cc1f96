/// One configured backend of a service: an entry of `targets:` (or of a tier in `tiers:`), or
/// the single `target:`.
///
/// A hostname entry stands for every address it resolves to; each address becomes a backend of
/// its own at run time, with these settings.
public struct BackendTarget: Sendable, Hashable {
    public var address: TargetAddress
    /// Share of new connections relative to the other backends of its tier (1..1000).
    public var weight: Int
    /// Connections open to this backend at once (per resolved address); `nil`: no limit.
    public var maxConnections: Int?
    /// Takes no new connections; those open finish (drain).
    public var disabled: Bool
    /// 0 is used first; a higher tier only while every lower one is down or full.
    public var tier: Int

    public static let defaultWeight = 1
    public static let weightRange = 1...1000
    public static let tierRange = 0...99

    public init(address: TargetAddress, weight: Int = BackendTarget.defaultWeight, maxConnections: Int? = nil,
                disabled: Bool = false, tier: Int = 0) {
        self.address = address
        self.weight = weight
        self.maxConnections = maxConnections
        self.disabled = disabled
        self.tier = tier
    }

    /// A bare address: what `target:` means.
    public var isPlain: Bool {
        weight == BackendTarget.defaultWeight && maxConnections == nil && !disabled && tier == 0
    }
}

/// How a service chooses among the usable backends of its best tier.
public enum BalancePolicy: String, Sendable, Hashable, CaseIterable {
    /// In turn, each as often as its weight says.
    case roundRobin = "round-robin"
    /// The one with the fewest open connections for its weight.
    case leastConnections = "least-connections"
    /// Two at random; the one with fewer open connections for its weight.
    case randomTwoChoices = "random-two-choices"
    /// Chosen by the client's address (rendezvous hashing): one client keeps its backend while
    /// that backend is usable, and losing one backend moves only that backend's clients.
    case sourceHash = "source-hash"
}

/// How backends are checked. Connect failures always count toward `fall` (passive checks); an
/// active probe, if any, runs every `interval` off the event loops.
public struct HealthCheck: Sendable, Hashable {
    public enum Probe: Sendable, Hashable {
        /// The backend accepts a connection.
        case tcp
        /// This program exits 0; it gets the backend in `ZNETD_BACKEND_HOST`, `ZNETD_BACKEND_PORT`
        /// and `ZNETD_BACKEND`.
        case exec([String])
        /// `GET path` answers with a status matching `expect`: three characters, each a digit or
        /// `x` (`2xx`, `200`, `30x`).
        case http(path: String, expect: String)
    }

    /// `nil`: passive checks only; a backend they took down gets a connection again after
    /// `interval` (and is up again if it connects).
    public var probe: Probe?
    public var interval: Duration
    public var timeout: Duration
    /// Successes in a row that bring a down backend up.
    public var rise: Int
    /// Failures in a row (probes or connects) that take an up backend down.
    public var fall: Int

    public static let defaultInterval: Duration = .seconds(2)
    public static let defaultTimeout: Duration = .seconds(1)
    public static let defaultRise = 2
    public static let defaultFall = 3
    public static let passiveOnly = HealthCheck(probe: nil)

    public init(probe: Probe?, interval: Duration = HealthCheck.defaultInterval,
                timeout: Duration = HealthCheck.defaultTimeout, rise: Int = HealthCheck.defaultRise,
                fall: Int = HealthCheck.defaultFall) {
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
    }
}

/// The PROXY protocol header znetd writes to a backend before the client's bytes.
public enum ProxyProtocolVersion: String, Sendable, Hashable {
    case v1, v2
}

/// How a service spreads connections over its backends, checks them and moves between tiers.
public struct Balancing: Sendable, Hashable {
    public var policy: BalancePolicy
    public var health: HealthCheck
    /// Further backends tried after a failed connect before the client is closed; `nil`: every
    /// usable backend once.
    public var retries: Int?
    /// A better tier that came back is used again once it has been up this long.
    public var failbackAfter: Duration
    /// On failback, close connections still open to worse tiers so their clients reconnect to
    /// the better one (iaido's forced promotion).
    public var failbackForce: Bool
    /// How often hostname targets are resolved again.
    public var resolveInterval: Duration
    public var proxyProtocol: ProxyProtocolVersion?

    public static let defaultFailbackAfter: Duration = .seconds(10)
    public static let defaultResolveInterval: Duration = .seconds(30)
    public static let retriesRange = 0...1000

    public static let standard = Balancing()

    public init(policy: BalancePolicy = .roundRobin, health: HealthCheck = .passiveOnly, retries: Int? = nil,
                failbackAfter: Duration = Balancing.defaultFailbackAfter, failbackForce: Bool = false,
                resolveInterval: Duration = Balancing.defaultResolveInterval,
                proxyProtocol: ProxyProtocolVersion? = nil) {
        self.policy = policy
        self.health = health
        self.retries = retries
        self.failbackAfter = failbackAfter
        self.failbackForce = failbackForce
        self.resolveInterval = resolveInterval
        self.proxyProtocol = proxyProtocol
    }
}
