import Testing
@testable import ZnetdConfig

@Test(arguments: [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("kitten", "sitting", 3), ("listen", "listen", 0),
    ("target", "tagret", 2), ("idle", "idel", 2), ("threads", "thread", 1),
])
func editDistanceCountsEdits(a: String, b: String, distance: Int) {
    #expect(editDistance(a, b) == distance)
    #expect(editDistance(b, a) == distance)
}

@Test func suggestsTheClosestKey() {
    #expect(unknownKeyMessage("cont", validKeys: ["count", "interval"]) == "unknown key 'cont'; did you mean 'count'?")
    #expect(unknownKeyMessage("idel", validKeys: ["idle", "interval"]) == "unknown key 'idel'; did you mean 'idle'?")
}

@Test func suggestsByPrefixBeyondEditDistance() {
    #expect(unknownKeyMessage("connect", validKeys: ["listen", "connect_timeout"])
        == "unknown key 'connect'; did you mean 'connect_timeout'?")
    #expect(unknownKeyMessage("listener_address", validKeys: ["target", "listen"])
        == "unknown key 'listener_address'; did you mean 'listen'?")
}

@Test func prefersTheSmallerDistanceThenTheFirstListed() {
    #expect(unknownKeyMessage("ab", validKeys: ["xyz", "abcd", "abc"]) == "unknown key 'ab'; did you mean 'abc'?")
    #expect(unknownKeyMessage("ac", validKeys: ["ab", "ad"]) == "unknown key 'ac'; did you mean 'ab'?")
}

@Test func listsValidKeysWhenNothingIsClose() {
    #expect(unknownKeyMessage("port", validKeys: ["listen", "target"])
        == "unknown key 'port'; valid keys are listen, target")
    // Too short for a prefix match.
    #expect(unknownKeyMessage("li", validKeys: ["listen"]) == "unknown key 'li'; valid keys are listen")
}
