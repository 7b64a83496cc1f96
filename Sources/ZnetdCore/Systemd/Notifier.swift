import CSystemd
import Glibc

/// The sd_notify protocol: service state for systemd (Type=notify), and the watchdog.
public enum Notifier {
    /// Sends newline-separated KEY=VALUE assignments to $NOTIFY_SOCKET; a no-op without one.
    public static func send(_ assignments: String) {
        _ = sd_notify(0, assignments)
    }

    public static func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public static func reloading() { send("RELOADING=1") }
    public static func stopping() { send("STOPPING=1") }
    public static func status(_ text: String) { send("STATUS=\(text)") }
    public static func watchdog() { send("WATCHDOG=1") }

    /// The watchdog interval systemd expects pings within, if it applies to this process
    /// (WATCHDOG_USEC set, and WATCHDOG_PID unset or ours), in nanoseconds.
    public static var watchdogInterval: UInt64? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return usec * 1_000
    }
}
