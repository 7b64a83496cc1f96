// Syntax checks for the parts of a backend command: its program, environment, directory and
// user. Only the syntax: whether the program, directory or user exist is checked when znetd runs
// it (or by `znetd check`), not here.

/// Whether `text` can be argv[0]: an absolute path, or a name without `/` looked up in PATH.
func isValidProgram(_ text: String) -> Bool {
    !text.isEmpty && !text.contains("\0") && (text.hasPrefix("/") || !text.contains("/"))
}

/// Whether `text` is an absolute path (a working directory, a readiness program).
func isAbsolutePath(_ text: String) -> Bool {
    text.hasPrefix("/") && !text.contains("\0")
}

/// Whether `name` can name an environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
func isValidEnvironmentName(_ name: Substring) -> Bool {
    guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
    return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
}

/// The longest user or group name accepted (useradd's limit).
let maximumUserNameLength = 32

/// Whether `text` names a user or group: a number from 0 to 4294967294, or a name of letters,
/// digits, `_`, `.` and `-` that does not start with a digit, `.` or `-` (a trailing `$`, as
/// for machine accounts, is allowed), at most 32 characters.
func isValidUserOrGroup(_ text: String) -> Bool {
    if let first = text.first, first.isASCII, first.isNumber {
        return text.allSatisfy { $0.isASCII && $0.isNumber } && UInt32(text).map { $0 != UInt32.max } == true
    }
    var name = Substring(text)
    if name.hasSuffix("$") { name = name.dropLast() }
    guard let first = name.first, first.isASCII, first.isLetter || first == "_",
        text.count <= maximumUserNameLength
    else { return false }
    return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
}
