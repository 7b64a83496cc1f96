// znetd-generator: a systemd generator writing znetd-NAME.socket and znetd-NAME.service for
// each service of /etc/znetd. Installed in /usr/lib/systemd/system-generators/.
import Glibc
import ZnetdGenerator

/// Generators log to the kernel log (syslog and the journal may not run yet); stderr without it.
let kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY)

func log(_ line: String) {
    // <3>: error priority in the kernel log.
    let record = kmsg >= 0 ? "<3>znetd-generator: \(line)\n" : "znetd-generator: \(line)\n"
    let bytes = Array(record.utf8)
    _ = bytes.withUnsafeBytes { write(kmsg >= 0 ? kmsg : STDERR_FILENO, $0.baseAddress, $0.count) }
}

exit(runGenerator(arguments: Array(CommandLine.arguments.dropFirst()), log: log))
