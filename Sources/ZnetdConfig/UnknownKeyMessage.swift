/// The message for a key that is not in `validKeys`: a "did you mean" hint when one valid key is
/// close (within edit distance 2, or a prefix either way), else the list of valid keys.
///
/// `kind` and `listedAs` name what the keys are, for mappings whose keys are not znetd's own
/// (`unknown unit property 'X'; supported properties are ...`).
func unknownKeyMessage(
    _ key: String, validKeys: [String], kind: String = "key", listedAs: String = "valid keys"
) -> String {
    let candidates = validKeys.compactMap { valid -> (key: String, distance: Int)? in
        let distance = editDistance(key, valid)
        let prefix = key.count >= 3 && (valid.hasPrefix(key) || key.hasPrefix(valid))
        return distance <= 2 || prefix ? (valid, distance) : nil
    }
    // `min(by:)` keeps the first of equals: ties go to the key listed first.
    if let best = candidates.min(by: { $0.distance < $1.distance }) {
        return "unknown \(kind) '\(key)'; did you mean '\(best.key)'?"
    }
    return "unknown \(kind) '\(key)'; \(listedAs) are \(validKeys.joined(separator: ", "))"
}

/// Levenshtein distance: insertions, deletions and substitutions of characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let b = Array(b)
    var previous = Array(0...b.count)
    for (i, characterOfA) in a.enumerated() {
        var current = [i + 1]
        for (j, characterOfB) in b.enumerated() {
            let substitution = previous[j] + (characterOfA == characterOfB ? 0 : 1)
            current.append(min(previous[j + 1] + 1, current[j] + 1, substitution))
        }
        previous = current
    }
    return previous[b.count]
}
