import Glibc
import Testing
@testable import ZnetdCore

/// Decoding wait statuses and naming signals: pure, no processes.
struct ExitStatusTests {
    @Test func exitStatusDecodesWaitStatuses() {
        #expect(ExitStatus(waitStatus: 3 << 8) == .exited(code: 3))
        #expect(ExitStatus(waitStatus: SIGKILL) == .killed(signal: SIGKILL, coreDumped: false))
        #expect(ExitStatus(waitStatus: SIGSEGV | 0x80) == .killed(signal: SIGSEGV, coreDumped: true))
        #expect(ExitStatus(waitStatus: 0x137f) == nil, "stopped, not ended")
        #expect(ExitStatus.killed(signal: SIGSEGV, coreDumped: true).description == "killed by SIGSEGV (core dumped)")
        #expect(ExitStatus.exited(code: 0).isSuccess)
    }

    @Test func signalNames() {
        #expect(SignalName.name(of: SIGTERM) == "SIGTERM")
        #expect(SignalName.name(of: SIGRTMIN() + 2) == "SIGRTMIN+2")
        #expect(SignalName.number(named: "SIGKILL") == SIGKILL)
        #expect(SignalName.number(named: "hup") == SIGHUP)
        #expect(SignalName.number(named: "15") == 15)
        #expect(SignalName.number(named: "SIGRTMIN+2") == SIGRTMIN() + 2)
        #expect(SignalName.number(named: "SIGNOPE") == nil)
        #expect(SignalName.number(named: "0") == nil)
    }

    private func SIGRTMIN() -> Int32 { __libc_current_sigrtmin() }
}
