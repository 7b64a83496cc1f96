import ZnetdConfig

/// Why a backend could not be started or did not become ready.
public struct LaunchError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Starts and stops one service's backend: a child process, a transient unit, an existing
/// unit, or hook commands. Everything runs on the control loop and never blocks it: each
/// operation completes through its callback.
protocol BackendLauncher: AnyObject {
    /// "process", "transient-unit", "unit" or "hooks", for logs and status.
    var kind: String { get }

    /// Starts the backend. `started` reports when it has been started (the process spawned,
    /// the unit's start job finished, the start hook exited 0) or why it could not be; readiness
    /// is probed after that. `environment` holds extra "NAME=value" entries (NOTIFY_SOCKET).
    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void)

    /// Stops the backend (signal, then SIGKILL after the timeout; or the unit's own stop);
    /// `stopped` runs once it is down.
    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void)

    /// Set by the supervisor: the backend ended on its own (exited, crashed, unit stopped).
    var onExit: ((String) -> Void)? { get set }

    /// Whether a backend from an earlier znetd is still running and can be taken over.
    func adopt(_ found: @escaping (Bool) -> Void)

    /// The process group readiness notifications may come from (NOTIFY_SOCKET), if any.
    var processGroup: Int32? { get }
}

extension BackendLauncher {
    func adopt(_ found: @escaping (Bool) -> Void) { found(false) }
    var processGroup: Int32? { nil }
}
