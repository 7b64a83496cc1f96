/// Attoseconds in one of each duration unit, largest first (the order ``formatDuration(_:)``
/// writes them in).
private let durationUnits: [(names: [String], attoseconds: Int128)] = [
    (["d", "day"], 86_400 * 1_000_000_000_000_000_000),
    (["h", "hr"], 3_600 * 1_000_000_000_000_000_000),
    (["m", "min"], 60 * 1_000_000_000_000_000_000),
    (["s", "sec"], 1_000_000_000_000_000_000),
    (["ms", "msec"], 1_000_000_000_000_000),
    (["us", "usec"], 1_000_000_000_000),
]

private let attosecondsPerSecond: Int128 = 1_000_000_000_000_000_000

/// Parses a duration written the way systemd writes time spans: terms of a number and a unit,
/// such as `500ms`, `10s`, `5m`, `1h`, `1m30s`, `1.5s` or `1m 30s`. Spaces may separate terms,
/// and a number from its unit.
///
/// Units: `us`/`usec`, `ms`/`msec`, `s`/`sec`, `m`/`min`, `h`/`hr`, `d`/`day`. A number without
/// a unit means seconds, as in systemd. Returns `nil` for anything else, including negative
/// values, `infinity` (allowed only by some settings, which check for it themselves) and
/// durations too long for `Duration`.
public func parseDuration(_ text: String) -> Duration? {
    var rest = Substring(text)
    var total: Int128 = 0
    var sawTerm = false
    while true {
        rest = rest.drop { $0 == " " }
        if rest.isEmpty { break }
        let whole = rest.prefix { $0.isASCII && $0.isNumber }
        guard !whole.isEmpty else { return nil }
        rest = rest.dropFirst(whole.count)
        var fraction: Substring = ""
        if rest.first == "." {
            fraction = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return nil }
            rest = rest.dropFirst(1 + fraction.count)
        }
        rest = rest.drop { $0 == " " }
        let unitName = rest.prefix { $0.isASCII && $0.isLetter }
        rest = rest.dropFirst(unitName.count)
        let unit: Int128
        if unitName.isEmpty {
            unit = attosecondsPerSecond
        } else if let match = durationUnits.first(where: { $0.names.contains(String(unitName)) }) {
            unit = match.attoseconds
        } else {
            return nil
        }
        guard let term = attoseconds(whole: whole, fraction: fraction, unit: unit) else { return nil }
        let (sum, overflow) = total.addingReportingOverflow(term)
        guard !overflow else { return nil }
        total = sum
        sawTerm = true
    }
    guard sawTerm, total / attosecondsPerSecond <= Int128(Int64.max) else { return nil }
    return Duration(
        secondsComponent: Int64(total / attosecondsPerSecond),
        attosecondsComponent: Int64(total % attosecondsPerSecond))
}

/// `whole.fraction` units in attoseconds, exactly; `nil` on overflow.
private func attoseconds(whole: Substring, fraction: Substring, unit: Int128) -> Int128? {
    guard let wholeValue = Int128(whole) else { return nil }
    let (product, overflow) = wholeValue.multipliedReportingOverflow(by: unit)
    guard !overflow else { return nil }
    // Digits beyond those that divide the unit evenly are below one attosecond: drop them.
    var scale: Int128 = 1
    var digits = 0
    while digits < fraction.count, unit % (scale * 10) == 0 {
        scale *= 10
        digits += 1
    }
    guard digits > 0, let fractionValue = Int128(fraction.prefix(digits)) else { return product }
    return product + fractionValue * (unit / scale)
}

/// Writes a duration in the shortest exact form ``parseDuration(_:)`` reads back: whole units
/// from days down to microseconds, largest first, such as `500ms`, `10s`, `5m`, `1h30m`, `1m30s`
/// or `250us`.
///
/// Zero is `0s`. A rest below one microsecond becomes a decimal fraction of microseconds
/// (`1.5us`), so the result is always exact.
public func formatDuration(_ duration: Duration) -> String {
    let (seconds, attos) = duration.components
    var rest = Int128(seconds) * attosecondsPerSecond + Int128(attos)
    if rest == 0 { return "0s" }
    var text = ""
    if rest < 0 {
        text = "-"
        rest = -rest
    }
    for (names, size) in durationUnits {
        let count = rest / size
        rest %= size
        if size == durationUnits.last!.attoseconds, rest > 0 {
            // Sub-microsecond rest: a decimal fraction of microseconds, trailing zeros dropped.
            var digits = String(rest)
            digits = String(repeating: "0", count: 12 - digits.count) + digits
            while digits.last == "0" { digits.removeLast() }
            text += "\(count).\(digits)\(names[0])"
        } else if count > 0 {
            text += "\(count)\(names[0])"
        }
    }
    return text
}
