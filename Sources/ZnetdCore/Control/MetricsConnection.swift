/// One scrape of the metrics endpoint: a plain HTTP/1.1 `GET /metrics`, answered with the
/// exposition text and `Connection: close`. Anything else gets a short error status.
final class MetricsConnection: ControlPlaneConnection {
    private let render: () -> String
    private var answered = false
    override class var maximumRequest: Int { 8 << 10 }
    /// A scraper that has not sent its request by then is cut off, so slow or stuck clients
    /// cannot keep the endpoint's connection slots.
    static let requestTimeout: UInt64 = 10_000_000_000
    private var timer: LoopTimer?

    init(fd: Int32, loop: EventLoop, render: @escaping () -> String) {
        self.render = render
        super.init(fd: fd, loop: loop)
    }

    override func start() {
        super.start()
        timer = loop.schedule(after: MetricsConnection.requestTimeout) { [weak self] in
            guard let self, !answered else { return }
            close()
        }
    }

    override func connectionClosed() {
        timer?.cancel()
    }

    override func received() {
        guard !answered, let end = headEnd() else { return }
        answered = true
        let head = String(decoding: input[..<end], as: UTF8.self)
        let requestLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return reply(400, "Bad Request", "bad request\n") }
        guard parts[0] == "GET" || parts[0] == "HEAD" else { return reply(405, "Method Not Allowed", "only GET\n") }
        let path = parts[1].split(separator: "?", maxSplits: 1).first ?? ""
        guard path == "/metrics" || path == "/" else { return reply(404, "Not Found", "metrics are at /metrics\n") }
        reply(200, "OK", render(), contentType: PrometheusText.contentType, withBody: parts[0] == "GET")
    }

    override func requestTooLarge() {
        answered = true
        reply(431, "Request Header Fields Too Large", "request too large\n")
    }

    override func peerFinished() {
        if !answered { close() } else { finish() }
    }

    private func headEnd() -> Int? {
        guard input.count >= 4 else { return nil }
        for index in 0...(input.count - 4)
        where input[index] == 13 && input[index + 1] == 10 && input[index + 2] == 13 && input[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func reply(_ status: Int, _ reason: String, _ body: String,
                       contentType: String = "text/plain; charset=utf-8", withBody: Bool = true) {
        let bytes = Array(body.utf8)
        send("HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n")
        if withBody { send(bytes) }
        finish()
    }
}
