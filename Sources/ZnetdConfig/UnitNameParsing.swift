/// The longest unit name systemd takes (UNIT_NAME_MAX less the terminating NUL).
let maximumUnitNameLength = 255

/// Whether `name` is a unit name systemd accepts that ends in one of `suffixes` (such as
/// `.service`): a non-empty prefix of ASCII letters, digits, `:`, `_`, `.`, `-` and `\` (for
/// escapes), at most 255 characters in all.
///
/// With `allowInstance`, the prefix may also name an instance of a template, `name@instance`
/// (as in `postgresql@15-main.service`); a template itself (`name@.service`) cannot be started
/// and is refused.
func isValidUnitName(_ name: String, suffixes: [String], allowInstance: Bool = false) -> Bool {
    guard name.utf8.count <= maximumUnitNameLength,
        let suffix = suffixes.first(where: { name.hasSuffix($0) })
    else { return false }
    let prefix = name.dropLast(suffix.count)
    let isUnitCharacter: (Character) -> Bool = {
        $0.isASCII && ($0.isLetter || $0.isNumber || ":_.-\\".contains($0))
    }
    let parts = prefix.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 1 || (allowInstance && parts.count == 2) else { return false }
    return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(isUnitCharacter) }
}

/// The transient unit of a service whose `unit_name` does not name one: `znetd-NAME-backend.service`.
/// Service names are letters, digits, `_`, `.` and `-`, so this is always a valid unit name.
func defaultTransientUnitName(service: String) -> String {
    "znetd-\(service)-backend.service"
}
