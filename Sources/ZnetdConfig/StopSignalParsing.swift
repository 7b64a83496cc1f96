import Glibc

/// The signals `stop_signal` accepts by name (without `SIG`, in any case), besides `RTMIN+N`.
private let stopSignalNames: [(name: String, number: Int32)] = [
    ("TERM", SIGTERM), ("INT", SIGINT), ("HUP", SIGHUP), ("QUIT", SIGQUIT), ("KILL", SIGKILL),
    ("USR1", SIGUSR1), ("USR2", SIGUSR2), ("WINCH", SIGWINCH),
]

/// Names of the other standard signals, for a signal given by number (`stop_signal: 7` is SIGBUS).
private let otherSignalNames: [(name: String, number: Int32)] = [
    ("ILL", SIGILL), ("TRAP", SIGTRAP), ("ABRT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE),
    ("SEGV", SIGSEGV), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD),
    ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU),
    ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF),
    ("IO", SIGIO), ("PWR", SIGPWR), ("SYS", SIGSYS),
]

/// The real-time signals as glibc numbers them (34...64 on Linux: the C library keeps 32 and 33).
private let realTimeSignals = __libc_current_sigrtmin()...__libc_current_sigrtmax()

extension StopSignal {
    /// The signal numbered `number` (1 to SIGRTMAX) with its conventional name: `SIGTERM`,
    /// `SIGRTMIN+3`, or `SIG32` for a number without one.
    init?(number: Int32) {
        guard (1...realTimeSignals.upperBound).contains(number) else { return nil }
        let name: String
        if let named = (stopSignalNames + otherSignalNames).first(where: { $0.number == number }) {
            name = named.name
        } else if realTimeSignals.contains(number) {
            let offset = number - realTimeSignals.lowerBound
            name = offset == 0 ? "RTMIN" : "RTMIN+\(offset)"
        } else {
            name = "\(number)"
        }
        self.init(name: "SIG" + name, number: number)
    }
}

/// Parses `stop_signal`: `TERM`, `INT`, `HUP`, `QUIT`, `KILL`, `USR1`, `USR2`, `WINCH` or
/// `RTMIN+N`, with or without `SIG` and in any case, or a signal number from 1 to 64. `nil` for
/// anything else.
///
/// A signal given by number and by name is the same value: `15` and `sigterm` are both `SIGTERM`.
func parseStopSignal(_ text: String) -> StopSignal? {
    if let number = Int32(text) {
        return StopSignal(number: number)
    }
    var name = Substring(text.uppercased())
    if name.hasPrefix("SIG") { name = name.dropFirst(3) }
    if let named = stopSignalNames.first(where: { $0.name == name }) {
        return StopSignal(number: named.number)
    }
    guard name.hasPrefix("RTMIN") else { return nil }
    let offsetText = name.dropFirst("RTMIN".count)
    var offset: Int32 = 0
    if !offsetText.isEmpty {
        guard offsetText.first == "+", offsetText.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int32(offsetText.dropFirst())
        else { return nil }
        offset = value
    }
    let (number, overflow) = realTimeSignals.lowerBound.addingReportingOverflow(offset)
    guard !overflow, realTimeSignals.contains(number) else { return nil }
    return StopSignal(number: number)
}

/// How `normalizedYAML()` writes a signal: its name when ``parseStopSignal(_:)`` reads that name
/// back to the same signal, else its number.
func formatStopSignal(_ signal: StopSignal) -> String {
    parseStopSignal(signal.name) == signal ? signal.name : "\(signal.number)"
}
