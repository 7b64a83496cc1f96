import CZnetdLinux
import Glibc
import ZnetdConfig

/// Runs a service's `exec:` destination program for one connection, on the control loop (never
/// on an event loop), and says where the connection goes: the first line it prints,
/// `host:port`, `[v6]:port` or `unix:/path`.
///
/// The program gets the client's and the local address as its last two arguments and in
/// `ZNETD_CLIENT_ADDRESS`, `ZNETD_CLIENT_HOST`, `ZNETD_CLIENT_PORT` and `ZNETD_LOCAL_ADDRESS`.
/// Its output is read once it has exited (a destination is one short line; a program that fills
/// the pipe without exiting runs into the timeout and is killed with its process group).
final class DestinationProgram: @unchecked Sendable {
    typealias Completion = @Sendable (Result<TargetAddress, DestinationError>) -> Void

    struct DestinationError: Error, CustomStringConvertible {
        var description: String
    }

    private let control: EventLoop
    private let reaper: ChildReaper
    /// Output kept per stream; more is not a destination.
    static let outputLimit = 4096

    init(control: EventLoop, reaper: ChildReaper) {
        self.control = control
        self.reaper = reaper
    }

    /// Runs `argv` for a client; `completion` runs on the control loop.
    func run(_ argv: [String], service: String, client: SocketAddress?, local: SocketAddress?, timeout: Duration,
             completion: @escaping Completion) {
        control.execute { [self] in start(argv, service: service, client: client, local: local, timeout: timeout,
                                          completion: completion) }
    }

    private func start(_ argv: [String], service: String, client: SocketAddress?, local: SocketAddress?,
                       timeout: Duration, completion: @escaping Completion) {
        let clientText = client.map { "\($0)" } ?? ""
        let localText = local.map { "\($0)" } ?? ""
        let environment = ChildEnvironment.merging(ChildEnvironment.inherited(), [
            "ZNETD_SERVICE=\(service)",
            "ZNETD_CLIENT_ADDRESS=\(clientText)",
            "ZNETD_CLIENT_HOST=\(client?.host ?? "")",
            "ZNETD_CLIENT_PORT=\(client?.port.map(String.init) ?? "")",
            "ZNETD_LOCAL_ADDRESS=\(localText)",
        ])
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard znetd_pipe(&out) == 0 else { return completion(.failure(.init(description: "pipe: \(errnoDescription(errno))"))) }
        guard znetd_pipe(&err) == 0 else {
            Glibc.close(out[0])
            Glibc.close(out[1])
            return completion(.failure(.init(description: "pipe: \(errnoDescription(errno))")))
        }
        // The program writes as it likes (blocking); znetd reads without waiting.
        _ = znetd_set_nonblocking(out[1], 0)
        _ = znetd_set_nonblocking(err[1], 0)
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(SpawnRequest(
                argv: argv + [clientText, localText], environment: environment,
                standardOutput: out[1], standardError: err[1]))
        } catch {
            for fd in out + err { Glibc.close(fd) }
            return completion(.failure(.init(description: "cannot run \(argv[0]): \(error)")))
        }
        Glibc.close(out[1])
        Glibc.close(err[1])
        var timedOut = false
        let killer = control.schedule(after: timeout.nanoseconds) {
            timedOut = true
            _ = try? child.signalGroup(SIGKILL)
        }
        reaper.watch(child) { status in
            killer.cancel()
            let output = DestinationProgram.drain(out[0])
            let errors = DestinationProgram.drain(err[0])
            Glibc.close(out[0])
            Glibc.close(err[0])
            let stderrText = errors.isEmpty ? "" : "; its stderr: " + errors.split(separator: "\n").joined(separator: " | ")
            guard !timedOut else {
                return completion(.failure(.init(description: "destination program \(argv[0]) gave no answer within \(formatDuration(timeout))\(stderrText)")))
            }
            guard status == .exited(code: 0) else {
                return completion(.failure(.init(description: "destination program \(argv[0]) \(status)\(stderrText)")))
            }
            let line = String(output.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
                .trimmingSpaces()
            do throws(AddressError) {
                let target = try parseTargetAddress(line)
                completion(.success(target))
            } catch {
                completion(.failure(.init(description: "destination program \(argv[0]) printed '\(line.prefix(100))': \(error.message)\(stderrText)")))
            }
        }
    }

    /// What is left in a pipe whose writers are gone (or that has nothing more for now).
    private static func drain(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while bytes.count < outputLimit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes.prefix(outputLimit), as: UTF8.self)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and carriage returns.
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
