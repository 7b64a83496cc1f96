import Testing
import ZnetdConfig

private let validDurations: [(String, Duration)] = [
    ("500ms", .milliseconds(500)),
    ("10s", .seconds(10)),
    ("5m", .seconds(300)),
    ("1h", .seconds(3600)),
    ("2d", .seconds(2 * 86_400)),
    ("1m30s", .seconds(90)),
    ("1m 30s", .seconds(90)),
    ("1.5s", .milliseconds(1500)),
    ("0.25ms", .microseconds(250)),
    ("250us", .microseconds(250)),
    ("3usec", .microseconds(3)),
    ("7msec", .milliseconds(7)),
    ("4sec", .seconds(4)),
    ("2min", .seconds(120)),
    ("1hr", .seconds(3600)),
    ("1day", .seconds(86_400)),
    ("30", .seconds(30)),
    ("1.5", .milliseconds(1500)),
    ("0", .zero),
    ("5 s", .seconds(5)),
    ("1h 2m 3s 4ms 5us", .microseconds(3_723_004_005)),
    ("0.000001us", Duration(secondsComponent: 0, attosecondsComponent: 1_000_000)),
]

@Test(arguments: validDurations)
func parsesDuration(text: String, expected: Duration) {
    #expect(parseDuration(text) == expected)
}

@Test(arguments: [
    "", " ", "ten", "s", "10x", "10 S", "5M", "-5s", "+5s", "1.s", ".5s", "1..5s", "1s,2s",
    "infinity", "10ns", "1e3s", "١s", "99999999999999999999d",
])
func rejectsDuration(text: String) {
    #expect(parseDuration(text) == nil)
}

private let formattedDurations: [(Duration, String)] = [
    (.milliseconds(500), "500ms"),
    (.seconds(10), "10s"),
    (.seconds(300), "5m"),
    (.seconds(5400), "1h30m"),
    (.seconds(90), "1m30s"),
    (.microseconds(250), "250us"),
    (.seconds(86_400 + 1), "1d1s"),
    (.milliseconds(1500), "1s500ms"),
    (.nanoseconds(1500), "1.5us"),
    (.nanoseconds(1), "0.001us"),
    (.zero, "0s"),
]

@Test(arguments: formattedDurations)
func formatsDuration(duration: Duration, expected: String) {
    #expect(formatDuration(duration) == expected)
}

private let roundTripDurations: [Duration] = [
    .seconds(1), .milliseconds(1), .microseconds(1), .nanoseconds(7),
    .nanoseconds(273_906_007_008_009), .seconds(Int64.max / 2),
]

@Test(arguments: roundTripDurations)
func formattedDurationParsesBack(duration: Duration) {
    #expect(parseDuration(formatDuration(duration)) == duration)
}
