import CZnetdLinux
import Glibc

/// Signal numbers as the names people write: "SIGTERM", "SIGRTMIN+2".
///
/// Used to describe how a backend died and in messages about the signals znetd sends.
public enum SignalName {
    /// "SIGKILL" for 9, "SIGRTMIN+2" for a real-time signal, "signal 99" for anything else.
    public static func name(of signal: Int32) -> String {
        if let abbreviation = znetd_signal_abbreviation(signal) {
            return "SIG" + String(cString: abbreviation)
        }
        let first = __libc_current_sigrtmin()
        let last = __libc_current_sigrtmax()
        if signal >= first && signal <= last {
            return signal == first ? "SIGRTMIN" : "SIGRTMIN+\(signal - first)"
        }
        return "signal \(signal)"
    }

    /// The number for "SIGTERM", "TERM" or "sigterm" (any case), "SIGRTMIN+n", or a number
    /// from 1 to 64; nil if there is no such signal.
    public static func number(named text: String) -> Int32? {
        if let number = Int32(text) { return (1..<Int32(NSIG)).contains(number) ? number : nil }
        var upper = text.uppercased()
        if !upper.hasPrefix("SIG") { upper = "SIG" + upper }
        for signal in 1..<Int32(NSIG) where name(of: signal) == upper {
            return signal
        }
        return nil
    }
}
