/// Why a request to systemd over the system bus failed.
///
/// The description is the line to log: a D-Bus error reads as its name and message
/// (`org.freedesktop.systemd1.NoSuchUnit: Unit foo.service not found.`), a job as
/// `job for foo.service finished with result 'failed'`.
public struct UnitError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No connection to the system bus could be made (no bus, refused, not allowed).
        case noBus
        /// The connection was lost while the request was pending.
        case disconnected
        /// systemd (or the bus) answered with this D-Bus error.
        case bus(name: String)
        /// The job ran and finished with a result other than "done".
        case job(JobOutcome)
        /// The reply did not have the expected shape.
        case badReply
        /// A call on our side failed before anything was sent (out of memory, bad argument).
        case local
    }

    public var kind: Kind
    /// The human part: the D-Bus error message, or what happened.
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// The D-Bus error name, for `.bus` errors.
    public var busErrorName: String? {
        if case .bus(let name) = kind { return name }
        return nil
    }

    public var description: String {
        switch kind {
        case .bus(let name): return message.isEmpty ? name : "\(name): \(message)"
        default: return message
        }
    }

    static func noBus(errno: Int32) -> UnitError {
        UnitError(kind: .noBus, message: "cannot connect to the system bus: \(errnoDescription(errno))")
    }

    static func disconnected(_ detail: String) -> UnitError {
        UnitError(kind: .disconnected, message: "lost the connection to the system bus: \(detail)")
    }

    static func badReply(_ detail: String) -> UnitError {
        UnitError(kind: .badReply, message: "unexpected reply from systemd: \(detail)")
    }

    static func local(_ call: String, errno: Int32) -> UnitError {
        UnitError(kind: .local, message: "\(call): \(errnoDescription(errno))")
    }

    static func job(_ outcome: JobOutcome) -> UnitError {
        UnitError(kind: .job(outcome),
                  message: "job for \(outcome.unit) finished with result '\(outcome.result)'")
    }
}

/// How a systemd job ended (the JobRemoved signal).
public struct JobOutcome: Sendable, Hashable, CustomStringConvertible {
    public var unit: String
    /// The job's object path, e.g. /org/freedesktop/systemd1/job/42.
    public var job: String
    /// "done", "canceled", "timeout", "failed", "dependency", "skipped", "invalid", "assert",
    /// "unsupported", "collected", "once".
    public var result: String

    public init(unit: String, job: String, result: String) {
        self.unit = unit
        self.job = job
        self.result = result
    }

    public var succeeded: Bool { result == "done" }
    public var description: String { "job for \(unit) finished with result '\(result)'" }
}

/// A unit's state as systemd reports it.
public struct UnitState: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// "loaded", "not-found", "bad-setting", "error", "masked", "stub", "merged".
    public var loadState: String
    /// "active", "reloading", "inactive", "failed", "activating", "deactivating".
    public var activeState: String
    /// Type-specific, e.g. "running", "dead", "failed", "start", "exited".
    public var subState: String
    /// The service's main process; nil for other unit types and for services without one.
    public var mainPID: UInt32?

    public init(name: String, loadState: String, activeState: String, subState: String,
                mainPID: UInt32? = nil) {
        self.name = name
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
        self.mainPID = mainPID
    }

    public var description: String {
        "\(name): \(loadState) \(activeState) (\(subState))" + (mainPID.map { ", main PID \($0)" } ?? "")
    }
}

/// One entry of ListUnitsByPatterns.
public struct ListedUnit: Sendable, Hashable {
    public var name: String
    public var description: String
    public var loadState: String
    public var activeState: String
    public var subState: String

    public init(name: String, description: String, loadState: String, activeState: String,
                subState: String) {
        self.name = name
        self.description = description
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
    }
}
