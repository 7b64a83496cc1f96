import Testing
import ZnetdConfig

private let validListenAddresses: [(String, ListenAddress, String)] = [
    ("127.0.0.1:8080", .inet(host: "127.0.0.1", port: 8080), "127.0.0.1:8080"),
    (":80", .inet(host: nil, port: 80), ":80"),
    ("0.0.0.0:1", .inet(host: "0.0.0.0", port: 1), "0.0.0.0:1"),
    ("[::1]:65535", .inet(host: "::1", port: 65535), "[::1]:65535"),
    ("[0:0::1]:443", .inet(host: "::1", port: 443), "[::1]:443"),
    ("[2001:DB8::0:1]:80", .inet(host: "2001:db8::1", port: 80), "[2001:db8::1]:80"),
    ("[::]:80", .inet(host: "::", port: 80), "[::]:80"),
    ("localhost:8080", .inet(host: "127.0.0.1", port: 8080), "127.0.0.1:8080"),
    ("LocalHost:8080", .inet(host: "127.0.0.1", port: 8080), "127.0.0.1:8080"),
    ("unix:/run/znetd/web.sock", .unix(path: "/run/znetd/web.sock"), "unix:/run/znetd/web.sock"),
    ("unix:@znetd-web", .unix(path: "@znetd-web"), "unix:@znetd-web"),
    ("unix:/" + String(repeating: "a", count: 106), .unix(path: "/" + String(repeating: "a", count: 106)),
     "unix:/" + String(repeating: "a", count: 106)),
    ("interface:eth0:80", .interface(name: "eth0", port: 80), "interface:eth0:80"),
    ("interface:enp0s31f6.1234:80", .interface(name: "enp0s31f6.1234", port: 80), "interface:enp0s31f6.1234:80"),
]

@Test(arguments: validListenAddresses)
func parsesListenAddress(text: String, expected: ListenAddress, canonical: String) throws {
    let address = try parseListenAddress(text)
    #expect(address == expected)
    #expect(address.description == canonical)
    #expect(try parseListenAddress(address.description) == address)
}

private let rejectedListenAddresses: [(String, String)] = [
    ("", "expected HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT; found ''"),
    ("web", "expected HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT; found 'web'"),
    ("8080", "missing ':' before the port; write ':8080' for every address or HOST:8080"),
    ("example.com:80", "listen addresses must be IP literals; found hostname 'example.com'"),
    ("web_1:80", "listen addresses must be IP literals; found 'web_1'"),
    ("80:80", "'80' is not a valid IPv4 address"),
    ("1.2.3.400:80", "'1.2.3.400' is not a valid IPv4 address"),
    ("127.0.0.1:0", "port must be a number from 1 to 65535; found '0'"),
    ("127.0.0.1:65536", "port must be a number from 1 to 65535; found '65536'"),
    ("127.0.0.1:http", "port must be a number from 1 to 65535; found 'http'"),
    ("127.0.0.1:+80", "port must be a number from 1 to 65535; found '+80'"),
    ("127.0.0.1:", "missing port after ':' in '127.0.0.1:'"),
    (":", "missing port after ':' in ':'"),
    ("::1:80", "IPv6 addresses need brackets; write '[::1]:80'"),
    ("fe80::1", "missing port; write '[fe80::1]:PORT'"),
    ("2001:db8::", "missing port; write '[2001:db8::]:PORT'"),
    ("a:b:80", "expected HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT; found 'a:b:80'"),
    ("[::1", "missing ']' after the IPv6 address in '[::1'"),
    ("[::1]", "expected ':PORT' after ']' in '[::1]'"),
    ("[::1]80", "expected ':PORT' after ']' in '[::1]80'"),
    ("[127.0.0.1]:80", "'127.0.0.1' is an IPv4 address; write it without brackets"),
    ("[::g]:80", "'::g' is not an IPv6 address"),
    ("[::1%eth0]:80", "'::1%eth0' is not an IPv6 address"),
    ("unix:run/x.sock",
     "unix socket path must be absolute (start with '/') or abstract (start with '@'); found 'run/x.sock'"),
    ("unix:", "unix socket path must be absolute (start with '/') or abstract (start with '@'); found ''"),
    ("unix:@", "abstract socket name after '@' is empty"),
    ("unix:/a\u{0}b", "unix socket path must not contain NUL characters"),
    ("unix:/" + String(repeating: "a", count: 107), "unix socket path is 108 bytes long; the limit is 107"),
    ("interface:eth0", "expected interface:NAME:PORT; found 'interface:eth0'"),
    ("interface::80", "interface name is empty; expected interface:NAME:PORT"),
    ("interface:abcdefghijklmnop:80", "interface name 'abcdefghijklmnop' is longer than 15 bytes"),
    ("interface:a/b:80", "interface name 'a/b' must not contain '/', ':' or whitespace"),
    ("interface:a:b:80", "interface name 'a:b' must not contain '/', ':' or whitespace"),
    ("interface:a b:80", "interface name 'a b' must not contain '/', ':' or whitespace"),
    ("interface:eth0:0", "port must be a number from 1 to 65535; found '0'"),
]

@Test(arguments: rejectedListenAddresses)
func rejectsListenAddress(text: String, message: String) {
    #expect(throws: AddressError(message)) { try parseListenAddress(text) }
}

private let validTargetAddresses: [(String, TargetAddress, String)] = [
    ("127.0.0.1:9090", .inet(host: "127.0.0.1", port: 9090), "127.0.0.1:9090"),
    ("[::1]:9090", .inet(host: "::1", port: 9090), "[::1]:9090"),
    ("[0::FFFF:10.0.0.1]:1", .inet(host: "::ffff:10.0.0.1", port: 1), "[::ffff:10.0.0.1]:1"),
    ("localhost:9090", .inet(host: "localhost", port: 9090), "localhost:9090"),
    ("backend-1.internal.example:443", .inet(host: "backend-1.internal.example", port: 443),
     "backend-1.internal.example:443"),
    ("example.com.:80", .inet(host: "example.com.", port: 80), "example.com.:80"),
    ("db:5432", .inet(host: "db", port: 5432), "db:5432"),
    ("unix:/run/app.sock", .unix(path: "/run/app.sock"), "unix:/run/app.sock"),
    ("unix:@app", .unix(path: "@app"), "unix:@app"),
]

@Test(arguments: validTargetAddresses)
func parsesTargetAddress(text: String, expected: TargetAddress, canonical: String) throws {
    let address = try parseTargetAddress(text)
    #expect(address == expected)
    #expect(address.description == canonical)
    #expect(try parseTargetAddress(address.description) == address)
}

private let rejectedTargetAddresses: [(String, String)] = [
    (":8080", "a target needs a host, such as 127.0.0.1:8080; found ':8080'"),
    ("backend", "expected HOST:PORT, [IPV6]:PORT or unix:/PATH; found 'backend'"),
    ("9090", "missing ':' before the port; write ':9090' for every address or HOST:9090"),
    ("::1:80", "IPv6 addresses need brackets; write '[::1]:80'"),
    ("10.0.0.256:80", "'10.0.0.256' is not a valid IPv4 address"),
    ("back_end:80", "'back_end' is not a valid hostname: use letters, digits, '-' and '.'"),
    ("-backend:80", "hostname '-backend' has a label starting or ending with '-'"),
    ("a..b:80", "hostname 'a..b' has an empty label (two dots in a row, or a leading dot)"),
    (String(repeating: "a", count: 64) + ":80",
     "hostname '\(String(repeating: "a", count: 64))' has a label longer than 63 characters"),
    (Array(repeating: String(repeating: "a", count: 50), count: 6).joined(separator: ".") + ":80",
     "hostname '\(Array(repeating: String(repeating: "a", count: 50), count: 6).joined(separator: "."))' "
        + "is longer than 253 characters"),
    ("db:0", "port must be a number from 1 to 65535; found '0'"),
    ("db:", "missing port after ':' in 'db:'"),
    ("unix:app.sock",
     "unix socket path must be absolute (start with '/') or abstract (start with '@'); found 'app.sock'"),
    ("interface:eth0:80", "expected HOST:PORT, [IPV6]:PORT or unix:/PATH; found 'interface:eth0:80'"),
]

@Test(arguments: rejectedTargetAddresses)
func rejectsTargetAddress(text: String, message: String) {
    #expect(throws: AddressError(message)) { try parseTargetAddress(text) }
}
