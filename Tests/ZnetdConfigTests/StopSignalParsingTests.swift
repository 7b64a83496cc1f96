import Testing
@testable import ZnetdConfig

@Test(arguments: [
    ("TERM", "SIGTERM", 15), ("SIGTERM", "SIGTERM", 15), ("term", "SIGTERM", 15), ("SigTerm", "SIGTERM", 15),
    ("INT", "SIGINT", 2), ("HUP", "SIGHUP", 1), ("QUIT", "SIGQUIT", 3), ("KILL", "SIGKILL", 9),
    ("USR1", "SIGUSR1", 10), ("usr2", "SIGUSR2", 12), ("WINCH", "SIGWINCH", 28),
    ("RTMIN", "SIGRTMIN", 34), ("RTMIN+0", "SIGRTMIN", 34), ("SIGRTMIN+3", "SIGRTMIN+3", 37),
    ("rtmin+30", "SIGRTMIN+30", 64),
    ("15", "SIGTERM", 15), ("1", "SIGHUP", 1), ("7", "SIGBUS", 7), ("32", "SIG32", 32), ("37", "SIGRTMIN+3", 37),
    ("64", "SIGRTMIN+30", 64),
] as [(String, String, Int32)])
func parsesStopSignal(text: String, name: String, number: Int32) {
    #expect(parseStopSignal(text) == StopSignal(name: name, number: number))
}

@Test(arguments: [
    "", "SIG", "TERM ", "BUS", "SIGSEGV", "STOP", "0", "65", "-15", "RTMIN+31", "RTMIN-1", "RTMIN+", "RTMIN+-1",
    "RTMAX", "RTMIN+ 1", "15s",
])
func rejectsStopSignal(text: String) {
    #expect(parseStopSignal(text) == nil)
}

@Test func namesEveryNumberedSignal() {
    for number in Int32(1)...64 {
        let signal = StopSignal(number: number)
        #expect(signal?.number == number)
        #expect(signal?.name.hasPrefix("SIG") == true)
    }
    #expect(StopSignal(number: 0) == nil)
    #expect(StopSignal(number: 65) == nil)
}

@Test func writesSignalsSoThatTheyReadBack() {
    #expect(formatStopSignal(.terminate) == "SIGTERM")
    #expect(formatStopSignal(StopSignal(name: "SIGRTMIN+3", number: 37)) == "SIGRTMIN+3")
    // Names the parser does not take are written as numbers.
    #expect(formatStopSignal(StopSignal(name: "SIGBUS", number: 7)) == "7")
    #expect(formatStopSignal(StopSignal(name: "SIG32", number: 32)) == "32")
    for number in Int32(1)...64 {
        let signal = StopSignal(number: number)!
        #expect(parseStopSignal(formatStopSignal(signal)) == signal)
    }
}
