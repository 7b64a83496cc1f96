import ZnetdConfig

/// ready: exec:/path: the backend is ready when this program exits 0.
enum ReadinessCommand {
    static func run(_ argv: [String], service: String, reaper: ChildReaper, loop: EventLoop,
                    _ done: @escaping (Result<Void, LaunchError>) -> Void) {
        CommandRun.run(Command(argv: argv), identifier: "znetd-\(service)-ready", reaper: reaper, loop: loop,
                       timeout: .seconds(10)) { result in
            switch result {
            case .success(let status) where status.isSuccess: done(.success(()))
            case .success(let status): done(.failure(LaunchError("readiness check \(status)")))
            case .failure(let error): done(.failure(error))
            }
        }
    }
}
