// Placeholder until the child-process layer lands.
enum ReadinessCommand {
    static func run(_ argv: [String], service: String, _ done: @escaping (Result<Void, LaunchError>) -> Void) {
        done(.failure(LaunchError("not implemented")))
    }
}
