import CZnetdLinux
import Glibc
import Testing
@testable import ZnetdCore

/// Real child processes, no mocks. Serialized: the reaper tests wait for any child
/// (waitpid(-1)), which would take the children of tests running beside them.
@Suite(.serialized)
struct ChildProcessTests {
    static let shell = "/bin/sh"
    static let path = ["PATH=/usr/bin:/bin"]

    // MARK: Running and output

    @Test func runsWithEnvironmentAndWorkingDirectory() throws {
        let run = try Run.capture(SpawnRequest(
            argv: ["sh", "-c", "echo \"$FOO\"; pwd"],
            environment: Self.path + ["FOO=bar baz"],
            workingDirectory: "/usr/share"))
        #expect(run.output == "bar baz\n/usr/share\n")
        #expect(run.status == .exited(code: 0))
    }

    @Test func findsProgramsInThePathOfItsEnvironment() throws {
        #expect(try ExecutableSearch.resolve("sh", searchPath: "relative:/nonexistent:/bin") == "/bin/sh")
        #expect(try ExecutableSearch.resolve("./x", searchPath: "/bin") == "./x")
        #expect(ExecutableSearch.searchPath(in: ["A=1", "PATH=/a", "PATH=/b:/c"]) == "/b:/c")
        #expect(ExecutableSearch.searchPath(in: []) == ExecutableSearch.defaultSearchPath)
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: ["no-such-program-znetd"], environment: ["PATH=/usr/bin:/bin"]))
        }
        #expect(error?.description == "cannot run 'no-such-program-znetd': not found in PATH (/usr/bin:/bin); give its absolute path or set PATH in the environment")
    }

    // MARK: Failures reported by the child

    @Test func missingProgramNamesThePath() {
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: ["/nonexistent/znetd-backend"], environment: []))
        }
        #expect(error?.stage == .execute("/nonexistent/znetd-backend"))
        #expect(error?.description == "cannot execute '/nonexistent/znetd-backend': No such file or directory")
        #expect(Run.zombies().isEmpty, "the failed child is reaped by spawn")
    }

    @Test func nonExecutableFileIsPermissionDenied() throws {
        let file = try TemporaryFile(contents: "#!/bin/sh\necho hi\n", mode: 0o644)
        defer { file.remove() }
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: [file.path], environment: []))
        }
        #expect(error?.description == "cannot execute '\(file.path)': Permission denied")
    }

    @Test func missingWorkingDirectoryNamesIt() {
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: [Self.shell, "-c", "true"], environment: [],
                                                workingDirectory: "/nonexistent/srv"))
        }
        #expect(error?.description == "chdir('/nonexistent/srv'): No such file or directory")
    }

    @Test func badDescriptorNamesBothNumbers() {
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: [Self.shell, "-c", "true"], environment: [],
                                                handOff: [HandOffSocket(fd: 9999, name: "web")]))
        }
        #expect(error?.description == "giving fd 9999 to the child as fd 3: Bad file descriptor")
    }

    @Test func handOffNamesMustFitLISTEN_FDNAMES() {
        #expect(HandOffSocket(fd: 3, name: "web").hasValidName)
        #expect(!HandOffSocket(fd: 3, name: "a:b").hasValidName)
        #expect(!HandOffSocket(fd: 3, name: "").hasValidName)
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: [Self.shell], environment: [], handOff: [HandOffSocket(fd: 0, name: "a:b")]))
        }
        #expect(error?.stage == .handOffName("a:b"))
    }

    // MARK: Session, process group, signals

    @Test func ownSessionAndGroupAndSignalGroupEndsGrandchildren() throws {
        let pipe = try Pipe()
        let child = try ChildProcess.spawn(SpawnRequest(
            argv: [Self.shell, "-c", "sleep 30 & echo $!; sleep 30"],
            environment: Self.path, standardOutput: pipe.write))
        pipe.closeWrite()
        defer { pipe.closeRead() }
        let grandchild = try #require(pid_t(pipe.readLine().trimmingSpaces))
        #expect(getsid(child.pid) == child.pid)
        #expect(getpgid(child.pid) == child.pid)
        #expect(getpgid(grandchild) == child.pid)
        #expect(child.processGroup == child.pid)

        #expect(try child.signalGroup(SIGTERM))
        #expect(Run.wait(child.pid) == .killed(signal: SIGTERM, coreDumped: false))
        #expect(Run.waitUntilDead(grandchild), "the grandchild \(grandchild) in the group got SIGTERM too")
        Run.reapIfOurs(grandchild)
    }

    @Test func signalsAreUnblockedAndDefaultInTheChild() throws {
        // znetd blocks its signals for the signalfd and ignores SIGPIPE; the child must not.
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        sigaddset(&blocked, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let previousPipe = Glibc.signal(SIGPIPE, SIG_IGN)
        defer {
            pthread_sigmask(SIG_SETMASK, &previous, nil)
            Glibc.signal(SIGPIPE, previousPipe)
        }

        let masks = try Run.capture(SpawnRequest(
            argv: ["/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"], environment: []))
        #expect(masks.output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")

        let child = try ChildProcess.spawn(SpawnRequest(argv: ["/bin/sleep", "30"], environment: []))
        #expect(try child.signal(SIGTERM))
        #expect(Run.wait(child.pid) == .killed(signal: SIGTERM, coreDumped: false))
    }

    // MARK: Socket activation hand-off

    @Test func handOffPassesTheSocketAsFD3WithListenVariables() throws {
        let listener = try Listener()
        defer { listener.close() }
        // Not close-on-exec, so only the spawn's own closing keeps it from the child.
        let stray = dup(0)
        defer { close(stray) }
        let run = try Run.capture(SpawnRequest(
            argv: [Self.shell, "-c", "echo \"$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES\"; readlink /proc/$$/fd/3; ls /proc/$$/fd"],
            environment: Self.path + ["LISTEN_FDS=7", "LISTEN_PID=1"],
            handOff: [HandOffSocket(fd: listener.fd, name: "web")]))
        let lines = run.output.split(separator: "\n").map(String.init)
        try #require(lines.count >= 3, "output: \(run.output)")
        #expect(lines[0] == "\(run.pid) \(run.pid) 1 web")
        #expect(lines[1] == "socket:[\(listener.inode)]")
        #expect(lines[2...].sorted() == ["0", "1", "2", "3"], "no other fds reach the child")
        #expect(run.status == .exited(code: 0))
    }

    @Test func severalSocketsKeepTheirOrderAndNames() throws {
        let first = try Listener(), second = try Listener()
        defer { first.close(); second.close() }
        // The second socket first, so the sources cross the targets (fd 3 <-> fd 4 cases).
        let run = try Run.capture(SpawnRequest(
            argv: [Self.shell, "-c", "echo $LISTEN_FDS $LISTEN_FDNAMES; readlink /proc/$$/fd/3 /proc/$$/fd/4"],
            environment: Self.path,
            handOff: [HandOffSocket(fd: second.fd, name: "b"), HandOffSocket(fd: first.fd, name: "a")]))
        #expect(run.output == "2 b:a\nsocket:[\(second.inode)]\nsocket:[\(first.inode)]\n")
    }

    // MARK: User switching

    @Test func resolvesUsersAndGroups() throws {
        let root = try #require(try ProcessIdentity.resolve(user: "root", group: nil))
        #expect(root.uid == 0 && root.gid == 0 && root.supplementaryGroups.contains(0))
        let numeric = try #require(try ProcessIdentity.resolve(user: "0", group: "65534"))
        #expect(numeric.uid == 0 && numeric.gid == 65534)
        #expect(try ProcessIdentity.resolve(user: nil, group: nil) == nil)
        #expect(try ProcessIdentity.resolve(user: nil, group: "0")?.supplementaryGroups == [0])

        let user = #expect(throws: SpawnError.self) { try ProcessIdentity.resolve(user: "no-such-user-znetd", group: nil) }
        #expect(user?.description == "no such user 'no-such-user-znetd'")
        let group = #expect(throws: SpawnError.self) { try ProcessIdentity.resolve(user: "root", group: "no-such-group-znetd") }
        #expect(group?.description == "no such group 'no-such-group-znetd'")
        let unknown = #expect(throws: SpawnError.self) { try ProcessIdentity.resolve(user: "4000000", group: nil) }
        #expect(unknown?.description == "user 4000000 has no passwd entry, so no primary group: set group too")
    }

    @Test(.enabled(if: geteuid() == 0, "switching users needs root"))
    func runsAsNobody() throws {
        let nobody = try #require(try ProcessIdentity.resolve(user: "nobody", group: nil))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = try Run.capture(SpawnRequest(
            argv: ["sh", "-c", "id -u; id -g; id -G; pwd"], environment: Self.path,
            workingDirectory: directory.path, identity: nobody))
        #expect(run.output == "65534\n\(nobody.gid)\n\(nobody.supplementaryGroups.map { "\($0)" }.joined(separator: " "))\n\(directory.path)\n")
    }

    @Test(.enabled(if: geteuid() != 0, "only without root"))
    func switchingUsersWithoutRootSaysSo() throws {
        let identity = ProcessIdentity(uid: 0, gid: 0, supplementaryGroups: [0], userName: "root")
        let error = #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(argv: [Self.shell, "-c", "true"], environment: [], identity: identity))
        }
        #expect(error?.description.contains("only a znetd running as root") == true)
    }

    // MARK: Preflight (znetd check)

    @Test func checkReportsWhatWouldFailBeforeStarting() throws {
        #expect(try SpawnRequest.check(.init(argv: ["sh"], environment: ["PATH=/bin"])) == "/bin/sh")
        let missing = #expect(throws: SpawnError.self) { try SpawnRequest.check(.init(argv: ["/nonexistent/x"])) }
        #expect(missing?.description == "cannot execute '/nonexistent/x': No such file or directory")
        let directory = #expect(throws: SpawnError.self) { try SpawnRequest.check(.init(argv: ["/tmp"])) }
        #expect(directory?.description == "cannot execute '/tmp': is a directory")
        let cwd = #expect(throws: SpawnError.self) {
            try SpawnRequest.check(.init(argv: ["/bin/sh"], workingDirectory: "/bin/sh"))
        }
        #expect(cwd?.description == "working directory '/bin/sh': not a directory")
        let user = #expect(throws: SpawnError.self) { try SpawnRequest.check(.init(argv: ["/bin/sh"], user: "no-such-user-znetd")) }
        #expect(user?.description == "no such user 'no-such-user-znetd'")
        #expect(throws: SpawnError(.emptyCommand)) { try SpawnRequest.check(.init(argv: [])) }
    }
}
