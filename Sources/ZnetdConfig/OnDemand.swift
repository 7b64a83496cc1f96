/// How a service's backend is woken on the first connection and put back to sleep.
///
/// A service without it (`ServiceConfig.onDemand == nil`) only forwards: the backend is
/// expected to be up already.
public struct OnDemand: Sendable, Hashable {
    public var launcher: Launcher
    /// How znetd learns that a started backend accepts connections.
    public var readiness: Readiness
    /// Waited after the backend is ready, before held clients are let through.
    public var waitAfterStart: Duration
    /// Bounds the whole wake-up: a backend not ready by then is stopped and its held clients closed.
    public var startTimeout: Duration
    /// Start the backend when znetd starts, not on the first connection.
    public var autoStart: Bool
    /// Stop the backend after this long without clients (across all the service's ports); nil: never.
    public var stopAfter: Duration?
    /// Sent to the backend's process group to stop it.
    public var stopSignal: StopSignal
    /// After this, SIGKILL (processes) or the unit's own stop semantics (units).
    public var stopTimeout: Duration
    /// A backend is never stopped for idleness sooner than this after it became ready.
    public var minUptime: Duration
    /// Pass the listening sockets to the backend (socket activation) instead of proxying.
    public var handOff: Bool
    /// Clients held while the backend wakes; more are closed (and logged).
    public var maxPending: Int
    /// More than `startLimitBurst` starts within `startLimitInterval` is a crash loop: znetd
    /// stops starting the backend until the interval has passed.
    public var startLimitBurst: Int
    public var startLimitInterval: Duration

    public static let defaultStartTimeout: Duration = .seconds(30)
    public static let defaultStopTimeout: Duration = .seconds(10)
    public static let defaultMaxPending = 1024
    public static let defaultStartLimitBurst = 5
    public static let defaultStartLimitInterval: Duration = .seconds(10)

    public init(
        launcher: Launcher,
        readiness: Readiness = .tcp,
        waitAfterStart: Duration = .zero,
        startTimeout: Duration = OnDemand.defaultStartTimeout,
        autoStart: Bool = false,
        stopAfter: Duration? = nil,
        stopSignal: StopSignal = .terminate,
        stopTimeout: Duration = OnDemand.defaultStopTimeout,
        minUptime: Duration = .zero,
        handOff: Bool = false,
        maxPending: Int = OnDemand.defaultMaxPending,
        startLimitBurst: Int = OnDemand.defaultStartLimitBurst,
        startLimitInterval: Duration = OnDemand.defaultStartLimitInterval
    ) {
        self.launcher = launcher
        self.readiness = readiness
        self.waitAfterStart = waitAfterStart
        self.startTimeout = startTimeout
        self.autoStart = autoStart
        self.stopAfter = stopAfter
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.minUptime = minUptime
        self.handOff = handOff
        self.maxPending = maxPending
        self.startLimitBurst = startLimitBurst
        self.startLimitInterval = startLimitInterval
    }
}

/// What starts and stops the backend.
public enum Launcher: Sendable, Hashable {
    /// A child process of znetd, in its own session and process group.
    case process(Command)
    /// A transient systemd unit started over D-Bus (StartTransientUnit) running `command`.
    case transientUnit(name: String, command: Command, properties: [UnitProperty])
    /// An existing systemd unit, started and stopped with StartUnit/StopUnit.
    case unit(name: String)
    /// Commands that start and stop the backend (e.g. boot and shut down a VM). With `check`,
    /// exit status 0 means the backend is already up and `start` is skipped.
    case hooks(start: Command, stop: Command?, check: Command?)
}

/// A program to run: argv (argv[0] an absolute path or a name looked up in PATH) and how.
public struct Command: Sendable, Hashable {
    public var argv: [String]
    /// "NAME=value" entries added to znetd's environment, in order.
    public var environment: [String]
    public var workingDirectory: String?
    /// Run as this user and group (names or numbers); only when znetd runs as root.
    public var user: String?
    public var group: String?

    public init(argv: [String], environment: [String] = [], workingDirectory: String? = nil,
                user: String? = nil, group: String? = nil) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.group = group
    }
}

/// How znetd decides a started backend is ready.
public enum Readiness: Sendable, Hashable {
    /// The target accepts a TCP (or unix) connection; probed with backoff.
    case tcp
    /// The backend says READY=1 on the NOTIFY_SOCKET znetd gives it (or, for a transient
    /// unit of Type=notify, its start job completes).
    case notify
    /// This program exits 0 (run repeatedly with backoff until it does).
    case exec([String])
}

/// A signal by name and number, e.g. ("SIGTERM", 15).
public struct StopSignal: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var number: Int32

    public init(name: String, number: Int32) {
        self.name = name
        self.number = number
    }

    public static let terminate = StopSignal(name: "SIGTERM", number: 15)
    public var description: String { name }
}

/// One property of a transient unit, as its D-Bus name and typed value.
public struct UnitProperty: Sendable, Hashable {
    /// The D-Bus property name (e.g. "CPUQuotaPerSecUSec" for CPUQuota=).
    public var name: String
    public var value: Value

    public enum Value: Sendable, Hashable {
        case string(String)   // "s"
        case boolean(Bool)    // "b"
        case uint64(UInt64)   // "t"
        case int32(Int32)     // "i"
        case strings([String])  // "as"
    }

    public init(name: String, value: Value) {
        self.name = name
        self.value = value
    }
}
