import Glibc
import ZnetdConfig

/// Value syntax of unit files: what systemd would otherwise read as a specifier, a variable or a
/// word break.
enum SystemdSyntax {
    /// A value taken verbatim up to the end of the line (Description=, SourcePath=,
    /// ListenStream=): only `%` is special (specifiers).
    static func plain(_ value: String) -> String {
        // Almost every value has neither: no copy, and no walk over its characters.
        if !value.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "\n") }) { return value }
        var out = ""
        for character in value {
            switch character {
            case "%": out += "%%"
            case "\n": out += " "  // a value cannot span lines; never in practice
            default: out.append(character)
            }
        }
        return out
    }

    /// One word of a command line (ExecStart=): `%` and `$` doubled, and the word in double
    /// quotes with C escapes when it holds anything systemd would split on or unquote.
    static func execWord(_ word: String) -> String {
        var body = ""
        var needsQuotes = word.isEmpty || word == ";"
        for scalar in word.unicodeScalars {
            switch scalar {
            case "%": body += "%%"
            case "$": body += "$$"
            case "\\": body += "\\\\"; needsQuotes = true
            case "\"": body += "\\\""; needsQuotes = true
            case "'": body += "'"; needsQuotes = true
            case "\n": body += "\\n"; needsQuotes = true
            case "\t": body += "\\t"; needsQuotes = true
            case " ": body += " "; needsQuotes = true
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    body += "\\x" + hex(UInt8(scalar.value))
                    needsQuotes = true
                } else {
                    body.unicodeScalars.append(scalar)
                }
            }
        }
        return needsQuotes ? "\"" + body + "\"" : body
    }

    /// A string made safe for a unit name, as `systemd-escape` does: bytes outside
    /// `[A-Za-z0-9:_.]` (and a leading `.`) become `\xNN`.
    static func unitNameComponent(_ text: String) -> String {
        var out = ""
        for (index, byte) in text.utf8.enumerated() {
            let isSafe = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a)
                || (byte >= 0x61 && byte <= 0x7a) || byte == 0x3a || byte == 0x5f
                || (byte == 0x2e && index > 0)
            out += isSafe ? String(UnicodeScalar(byte)) : "\\x" + hex(byte)
        }
        return out
    }

    /// A duration as a systemd time span, rounded up to whole microseconds.
    static func timeSpan(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micros = attoseconds / 1_000_000_000_000 + (attoseconds % 1_000_000_000_000 > 0 ? 1 : 0)
        return formatDuration(.seconds(seconds) + .microseconds(micros))
    }

    /// Whether `host` is an IPv4 or IPv6 literal (not a name to resolve).
    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
