import Testing
import ZnetdConfig

private let overlapping: [(String, String)] = [
    ("127.0.0.1:80", "127.0.0.1:80"),
    ("localhost:80", "127.0.0.1:80"),
    (":80", "127.0.0.1:80"),
    (":80", "[::1]:80"),
    (":80", ":80"),
    ("[::]:80", "10.0.0.1:80"),
    ("[::]:80", ":80"),
    ("0.0.0.0:80", "10.0.0.1:80"),
    ("0.0.0.0:80", ":80"),
    ("[0::1]:80", "[::1]:80"),
    ("interface:eth0:80", ":80"),
    ("interface:eth0:80", "0.0.0.0:80"),
    ("interface:eth0:80", "interface:eth0:80"),
    ("unix:/run/a.sock", "unix:/run/a.sock"),
    ("unix:@a", "unix:@a"),
]

@Test(arguments: overlapping)
func overlaps(first: String, second: String) throws {
    let a = try parseListenAddress(first), b = try parseListenAddress(second)
    #expect(a.overlaps(b))
    #expect(b.overlaps(a))
}

private let separate: [(String, String)] = [
    ("127.0.0.1:80", "127.0.0.1:81"),
    ("127.0.0.1:80", "127.0.0.2:80"),
    (":80", ":81"),
    ("0.0.0.0:80", "[::1]:80"),
    ("interface:eth0:80", "127.0.0.1:80"),
    ("interface:eth0:80", "interface:eth1:80"),
    ("interface:eth0:80", "interface:eth0:81"),
    ("unix:/run/a.sock", "unix:/run/b.sock"),
    ("unix:/a", "unix:@a"),
    (":80", "unix:/80"),
]

@Test(arguments: separate)
func doesNotOverlap(first: String, second: String) throws {
    let a = try parseListenAddress(first), b = try parseListenAddress(second)
    #expect(!a.overlaps(b))
    #expect(!b.overlaps(a))
}
