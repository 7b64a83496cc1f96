import CZnetdLinux
public import Glibc

/// A program znetd started, in its own session and process group (its pgid is its pid), so
/// stopping it reaches everything it started that stayed in the group.
///
/// Confined to the control loop, like the `ChildReaper` that learns when it ends.
public final class ChildProcess: CustomStringConvertible {
    public let pid: Glibc.pid_t
    /// The path that was executed.
    public let executable: String
    /// Set by `ChildReaper` when the process has been reaped; after that its pid may belong
    /// to another process, so `signal(_:)` no longer sends anything.
    public internal(set) var exitStatus: ExitStatus?

    /// The child made its own process group with setsid: its id is the child's pid.
    public var processGroup: Glibc.pid_t { pid }

    init(pid: pid_t, executable: String) {
        self.pid = pid
        self.executable = executable
    }

    public var description: String { "pid \(pid) (\(executable))" }

    // MARK: Signals

    /// Sends `signal` to the child alone. False when it has already ended (reaped, or gone).
    @discardableResult
    public func signal(_ signal: Int32) throws(SystemError) -> Bool {
        guard exitStatus == nil else { return false }
        return try send(signal, to: pid, subject: "to \(description)")
    }

    /// Sends `signal` to the child's whole process group: the child and the processes it
    /// started that did not leave the group. Still works after the child itself has ended,
    /// while others of its group live on. False when the group is empty.
    @discardableResult
    public func signalGroup(_ signal: Int32) throws(SystemError) -> Bool {
        try send(signal, to: -processGroup, subject: "to process group \(processGroup) (\(executable))")
    }

    private func send(_ signal: Int32, to target: pid_t, subject: String) throws(SystemError) -> Bool {
        if kill(target, signal) == 0 { return true }
        if errno == ESRCH { return false }
        throw SystemError("kill(\(SignalName.name(of: signal)))", subject: subject)
    }

    // MARK: Spawning

    /// Starts `request` and returns once the program has been executed, or throws what
    /// failed on the way: the PATH lookup here, or, reported by the child, setsid, fd set-up,
    /// setgroups/setgid/setuid, chdir or exec.
    ///
    /// The caller watches the result with `ChildReaper.watch` before the control loop runs
    /// again, so its exit is never reaped unnoticed.
    public static func spawn(_ request: SpawnRequest) throws(SpawnError) -> ChildProcess {
        guard let program = request.argv.first else { throw SpawnError(.emptyCommand) }
        let path = try ExecutableSearch.resolve(program, searchPath: ExecutableSearch.searchPath(in: request.environment))
        if let bad = request.handOff.first(where: { !$0.hasValidName }) { throw SpawnError(.handOffName(bad.name)) }

        // LISTEN_* describe this child's fds only: drop inherited ones, add ours.
        var environment = request.environment.filter { !$0.hasPrefix("LISTEN_") }
        var listenPIDSlot: Int32 = -1
        if !request.handOff.isEmpty {
            environment.append("LISTEN_FDS=\(request.handOff.count)")
            environment.append("LISTEN_FDNAMES=\(request.handOff.map(\.name).joined(separator: ":"))")
            listenPIDSlot = Int32(environment.count)
            environment.append("LISTEN_PID=")  // The child writes its pid here.
        }

        var nullDevice: Int32 = -1
        defer { if nullDevice >= 0 { close(nullDevice) } }
        let streams = [request.standardInput, request.standardOutput, request.standardError]
        if streams.contains(nil) {
            nullDevice = open("/dev/null", O_RDWR | O_CLOEXEC)
            guard nullDevice >= 0 else { throw SpawnError(.openNullDevice, errno: errno) }
        }
        let fds = streams.map { $0 ?? nullDevice } + request.handOff.map(\.fd)

        let cArgv = CStringArray(request.argv)
        let cEnvironment = CStringArray(environment)
        defer {
            cArgv.free()
            cEnvironment.free()
        }
        let groups = request.identity?.supplementaryGroups ?? []
        var failure = znetd_spawn_failure()
        let pid = path.withCString { cPath in
            withOptionalCString(request.workingDirectory) { cDirectory in
                groups.withUnsafeBufferPointer { cGroups in
                    fds.withUnsafeBufferPointer { cFDs in
                        var spawn = znetd_spawn_request()
                        spawn.path = cPath
                        spawn.argv = UnsafePointer(cArgv.pointers)
                        spawn.envp = cEnvironment.pointers
                        spawn.listen_pid_slot = listenPIDSlot
                        spawn.working_directory = cDirectory
                        if let identity = request.identity {
                            spawn.change_identity = 1
                            spawn.uid = identity.uid
                            spawn.gid = identity.gid
                            spawn.groups = cGroups.baseAddress
                            spawn.group_count = cGroups.count
                        }
                        spawn.fds = cFDs.baseAddress
                        spawn.fd_count = Int32(cFDs.count)
                        return znetd_spawn(&spawn, &failure)
                    }
                }
            }
        }
        guard pid > 0 else { throw spawnError(failure, request: request, path: path, fds: fds) }
        return ChildProcess(pid: pid, executable: path)
    }

    /// Names what the C side reported with the values of this request.
    private static func spawnError(_ failure: znetd_spawn_failure, request: SpawnRequest,
                                   path: String, fds: [Int32]) -> SpawnError {
        let stage: SpawnError.Stage
        switch failure.stage {
        case ZNETD_SPAWN_STAGE_PIPE: stage = .createReportPipe
        case ZNETD_SPAWN_STAGE_FORK: stage = .fork
        case ZNETD_SPAWN_STAGE_SETSID: stage = .createSession
        case ZNETD_SPAWN_STAGE_DUP:
            let child = failure.detail
            stage = .redirect(childFD: child, parentFD: fds.indices.contains(Int(child)) ? fds[Int(child)] : -1)
        case ZNETD_SPAWN_STAGE_CLOSE: stage = .closeDescriptors
        case ZNETD_SPAWN_STAGE_SETGROUPS: stage = .setGroups(request.identity?.supplementaryGroups ?? [])
        case ZNETD_SPAWN_STAGE_SETGID: stage = .setGID(request.identity?.gid ?? 0)
        case ZNETD_SPAWN_STAGE_SETUID: stage = .setUID(request.identity?.uid ?? 0)
        case ZNETD_SPAWN_STAGE_CHDIR: stage = .changeDirectory(request.workingDirectory ?? "")
        case ZNETD_SPAWN_STAGE_EXEC: stage = .execute(path)
        default: stage = .readReport
        }
        return SpawnError(stage, errno: failure.error)
    }
}

/// A NULL-terminated array of C strings that lives until `free()`: argv and envp for exec.
private struct CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: count + 1)
        for (index, string) in strings.enumerated() { (pointers + index).initialize(to: strdup(string)) }
        (pointers + count).initialize(to: nil)
    }

    func free() {
        for index in 0..<count { Glibc.free(pointers[index]) }
        pointers.deallocate()
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
