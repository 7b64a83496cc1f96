import Logging
import Testing
@testable import ZnetdCore

struct JournalLogHandlerTests {
    @Test func metadataKeysBecomeValidJournalFieldNames() {
        #expect(JournalLogHandler.fieldName("service") == "ZNETD_SERVICE")
        #expect(JournalLogHandler.fieldName("bytes_in") == "ZNETD_BYTES_IN")
        #expect(JournalLogHandler.fieldName("wake-usec") == "ZNETD_WAKE_USEC")
        #expect(JournalLogHandler.fieldName("über") == "ZNETD__BER")
        #expect(JournalLogHandler.fieldName(String(repeating: "a", count: 100)).count == 64)
    }

    @Test func levelsMapToSyslogPriorities() {
        let expected: [(Logger.Level, Int)] = [(.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2)]
        for (level, priority) in expected {
            #expect(JournalLogHandler.syslogPriority(level) == priority)
        }
    }
}
