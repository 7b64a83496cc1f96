import Testing
@testable import ZnetdConfig

@Test(arguments: [
    ("65536", 65536), ("4K", 4096), ("4KiB", 4096), ("1M", 1 << 20), ("64MiB", 64 << 20), ("0", 0),
])
func parsesByteSize(text: String, expected: Int) {
    #expect(parseByteSize(text) == expected)
}

@Test(arguments: ["", "1k", "1KB", "1 MiB", "1GiB", "-1", "MiB", "1.5MiB", "99999999999999999999M"])
func rejectsByteSize(text: String) {
    #expect(parseByteSize(text) == nil)
}

@Test(arguments: [(1 << 20, "1MiB"), (65536, "64KiB"), (5000, "5000"), (1024 + 1, "1025"), (0, "0")])
func formatsByteSize(bytes: Int, expected: String) {
    #expect(formatByteSize(bytes) == expected)
}
