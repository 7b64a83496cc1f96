import CZnetdLinux
import Foundation
import Testing
@testable import ZnetdHTTP

/// A throw-away directory with self-signed certificates made by the openssl command.
private final class CertificateDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("znetd-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `NAME.crt` and `NAME.key` for a certificate with common name `cn` and DNS names `sans`.
    func make(_ name: String, cn: String, sans: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        var arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-days", "2", "-subj", "/CN=\(cn)", "-keyout", "\(path)/\(name).key", "-out", "\(path)/\(name).crt"]
        if !sans.isEmpty { arguments += ["-addext", "subjectAltName=" + sans.map { "DNS:\($0)" }.joined(separator: ",")] }
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}

/// Drives a handshake and one echo between a server stream and an OpenSSL client over a
/// nonblocking socketpair, both in this thread; returns the CN the client saw.
private func handshake(_ store: TLSCertificateStore, serverName: String?) throws -> (cn: String?, sni: String?, echoed: String) {
    var fds: [Int32] = [0, 0]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    defer { close(fds[0]); close(fds[1]) }
    for fd in fds { #expect(znetd_set_nonblocking(fd, 1) == 0) }
    let clientContext = try TLSClientContext()
    let server = try store.accept(fd: fds[0])
    let client = try TLSStream(client: clientContext, fd: fds[1], serverName: serverName)
    var serverDone = false, clientDone = false
    for _ in 0..<1000 where !(serverDone && clientDone) {
        if !serverDone, case .done = server.handshake() { serverDone = true }
        if !clientDone, case .done = client.handshake() { clientDone = true }
    }
    #expect(serverDone && clientDone)
    let message = Array("ping through TLS".utf8)
    #expect(message.withUnsafeBytes { client.write($0) } == .done(message.count))
    var buffer = [UInt8](repeating: 0, count: 64)
    var received = 0
    for _ in 0..<100 {
        if case .done(let n) = buffer.withUnsafeMutableBytes({ server.read(into: $0) }) { received = n; break }
    }
    return (client.peerCommonName, server.serverName, String(decoding: buffer.prefix(received), as: UTF8.self))
}

@Test func sniChoosesTheCertificateAndDataFlows() throws {
    let directory = try CertificateDirectory()
    try directory.make("a", cn: "a.test", sans: ["a.test", "www.a.test"])
    try directory.make("b", cn: "b wildcard", sans: ["*.b.test"])
    let a = try TLSCertificate(certificate: directory.path + "/a.crt", key: directory.path + "/a.key")
    let b = try TLSCertificate(certificate: directory.path + "/b.crt", key: directory.path + "/b.key")
    #expect(a.names == ["a.test", "www.a.test"])
    #expect(b.names == ["*.b.test"])
    let store = TLSCertificateStore([a, b])

    let exact = try handshake(store, serverName: "www.a.test")
    #expect(exact.cn == "a.test")
    #expect(exact.sni == "www.a.test")
    #expect(exact.echoed == "ping through TLS")
    #expect(try handshake(store, serverName: "api.b.test").cn == "b wildcard")
    #expect(try handshake(store, serverName: "x.y.b.test").cn == "a.test")  // one label only: the default
    #expect(try handshake(store, serverName: nil).cn == "a.test")          // no SNI: the first
}

@Test func certificateErrorsSayWhich() throws {
    let directory = try CertificateDirectory()
    try directory.make("a", cn: "a.test", sans: [])
    try directory.make("b", cn: "b.test", sans: [])
    #expect(try TLSCertificate(certificate: directory.path + "/a.crt", key: directory.path + "/a.key").names == ["a.test"])
    do {
        _ = try TLSCertificate(certificate: directory.path + "/a.crt", key: directory.path + "/b.key")
        Issue.record("a mismatched key was accepted")
    } catch {
        // OpenSSL 3 (the only one znetd loads) notices while loading the key.
        #expect(error.description.contains("\(directory.path)/b.key"))
        #expect(error.description.contains("cannot load private key") && error.description.contains("key values mismatch"))
    }
    do {
        _ = try TLSCertificate(certificate: directory.path + "/missing.crt", key: directory.path + "/a.key")
        Issue.record("a missing certificate was accepted")
    } catch {
        #expect(error.description.hasPrefix("cannot load certificate chain \(directory.path)/missing.crt"))
    }
}

@Test func credentialPathsResolveInTheCredentialsDirectory() {
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/znetd-web.service", 1)
    defer { unsetenv("CREDENTIALS_DIRECTORY") }
    #expect(TLSCertificate.resolvePath("credential:web.key") == "/run/credentials/znetd-web.service/web.key")
    #expect(TLSCertificate.resolvePath("/etc/ssl/web.key") == "/etc/ssl/web.key")
}
