import Glibc
import Testing
import ZnetdConfig
@testable import ZnetdCore

/// What a backend inherits, and where its output goes. No processes are started here.
struct ChildEnvironmentTests {
    @Test func znetdsOwnSystemdVariablesAreNotPassedOn() {
        let znetd = ["PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "LISTEN_FDS=2", "LISTEN_PID=1",
                     "LISTEN_FDNAMES=web", "WATCHDOG_USEC=1000", "WATCHDOG_PID=1", "JOURNAL_STREAM=8:9",
                     "SYSTEMD_EXEC_PID=1", "INVOCATION_ID=abc", "LANG=C.UTF-8"]
        #expect(ChildEnvironment.withoutZnetdOnly(znetd) == ["PATH=/usr/bin", "INVOCATION_ID=abc", "LANG=C.UTF-8"])
    }

    @Test func additionsReplaceInPlaceOrAppendInOrder() {
        let merged = ChildEnvironment.merging(["A=1", "PATH=/bin", "B=2"], ["PATH=/opt/bin", "C=3", "A=", "C=4"])
        #expect(merged == ["A=", "PATH=/opt/bin", "B=2", "C=4"])
        #expect(ChildEnvironment.name(of: "X=a=b") == "X")
        #expect(ChildEnvironment.name(of: "NOEQUALS") == "NOEQUALS")
    }

    @Test func currentEnvironmentIsRead() {
        let current = ChildEnvironment.current()
        #expect(current.allSatisfy { !$0.isEmpty })
        if let path = getenv("PATH").map({ String(cString: $0) }) {
            #expect(current.contains("PATH=\(path)"))
        }
    }

    @Test func requestForACommandUsesItsSettingsAndTheOutput() throws {
        let command = Command(argv: ["/bin/sh", "-c", "true"], environment: ["ZNETD_TEST=1", "NOTIFY_SOCKET=/x"],
                              workingDirectory: "/srv", user: "root")
        let request = try SpawnRequest(command: command, output: .znetdStderr,
                                       handOff: [HandOffSocket(fd: 3, name: "web")])
        #expect(request.argv == command.argv)
        #expect(request.workingDirectory == "/srv")
        #expect(request.identity?.uid == 0)
        #expect(request.standardInput == nil, "stdin is /dev/null")
        #expect(request.standardOutput == STDERR_FILENO && request.standardError == STDERR_FILENO)
        #expect(request.environment.last == "NOTIFY_SOCKET=/x", "a command may set what znetd does not pass on")
        #expect(request.environment.contains("ZNETD_TEST=1"))
        #expect(request.handOff == [HandOffSocket(fd: 3, name: "web")])
        #expect(throws: SpawnError(.lookUpUser("no-such-user-znetd"))) {
            try SpawnRequest(command: Command(argv: ["/bin/true"], user: "no-such-user-znetd"), output: .znetdStderr)
        }
    }

    @Test func outputIsZnetdsStderrUnlessLoggingToTheJournal() throws {
        let stderr = try JournalStream.open(identifier: "znetd-web", destination: .stderr)
        #expect(stderr.fd == STDERR_FILENO && !stderr.isOwned && stderr.environmentEntry == nil)
        stderr.closeParentCopy()
        #expect(fcntl(STDERR_FILENO, F_GETFD) >= 0, "znetd's stderr stays open")
    }

    @Test func journalStreamIsASocketNamedInJOURNAL_STREAM() throws {
        guard access("/run/systemd/journal/stdout", F_OK) == 0 else {
            // No journald here: the failure says which call failed and what to check.
            let error = #expect(throws: SystemError.self) {
                try JournalStream.open(identifier: "znetd-web", destination: .journal)
            }
            #expect(error?.description.hasPrefix("sd_journal_stream_fd for 'znetd-web' (is systemd-journald running?): ") == true)
            return
        }
        let stream = try JournalStream.open(identifier: "znetd-web", destination: .journal)
        defer { stream.closeParentCopy() }
        var info = stat()
        #expect(fstat(stream.fd, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        #expect(stream.isOwned && stream.fd > STDERR_FILENO)
        #expect(stream.environmentEntry == "JOURNAL_STREAM=\(info.st_dev):\(info.st_ino)")
    }
}
