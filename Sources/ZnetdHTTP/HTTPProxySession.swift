/// The HTTP/1.x side of one client connection on a shared listener, without any I/O: bytes
/// from the client and from the backend go in, actions come out (route this request, send
/// these bytes, switch to a tunnel, close). The event loop does the I/O; tests drive this
/// directly.
///
/// One request at a time: a request is routed on its own head, its body forwarded as framed,
/// then the response head and body; bytes of the client's next request (pipelining) wait until
/// the response is complete, and that request is routed afresh, so keep-alive connections can
/// reach another service per request. A `101 Switching Protocols` or a successful `CONNECT`
/// turns the connection into a plain tunnel.
public struct HTTPProxySession {
    public enum Action: Equatable {
        /// Connect to the service's backend (or reuse the connection to it, when it is the
        /// service of the previous request), then call ``backendConnected()``. A request with
        /// no route never gets here: it is answered with a 404 and the client closed.
        case route(service: String)
        case toBackend([UInt8])
        case toClient([UInt8])
        /// The previous request's backend connection is not reused.
        case closeBackend
        /// From now on forward bytes both ways unchanged (splice).
        case tunnel
        /// Close the client once what was sent to it is flushed.
        case closeClient
    }

    private enum State: Equatable {
        case readingRequestHead
        case connecting
        case forwardingRequestBody
        case awaitingResponseHead
        case forwardingResponseBody
        case tunnel
        case closed
    }

    /// Read for each request: replace it to change where the next request goes (routes added
    /// or removed at run time apply from the next request on).
    public var routes: HTTPRouteTable
    private let client: String
    private let isTLS: Bool
    private let forwarded: HTTPForwardedFields
    private let headLimit: Int
    private var state: State = .readingRequestHead
    /// Client bytes not yet handled (a head being read, or a pipelined request).
    private var clientBuffer: [UInt8] = []
    /// Backend bytes of a response head being read.
    private var backendBuffer: [UInt8] = []
    private var requestBody = HTTPBodyScanner(.none)
    private var responseBody = HTTPBodyScanner(.none)
    private var requestBodyDone = true
    private var method = "GET"
    private var requestKeepsAlive = true
    private var pendingHead: [UInt8] = []
    /// The service the current backend connection belongs to.
    public private(set) var currentService: String?
    /// Requests read so far (routed or not).
    public private(set) var requests = 0
    /// Requests no route matched (answered 404).
    public private(set) var unroutedRequests = 0

    public init(routes: HTTPRouteTable, client: String, isTLS: Bool, forwarded: HTTPForwardedFields = .both,
                headLimit: Int = HTTPHeadParser.defaultLimit) {
        self.routes = routes
        self.client = client
        self.isTLS = isTLS
        self.forwarded = forwarded
        self.headLimit = headLimit
    }

    // MARK: State for the I/O side

    /// Whether client bytes are wanted now: while a head is read, a request body forwarded, or
    /// in a tunnel. Otherwise (waiting for a backend or a response) the caller stops reading,
    /// so a pipelining client is held back by TCP instead of by memory.
    public var wantsClientData: Bool {
        state == .readingRequestHead || state == .forwardingRequestBody || state == .tunnel
    }

    /// Between requests with nothing buffered: an idle keep-alive connection, safe to close.
    public var isIdle: Bool { state == .readingRequestHead && clientBuffer.isEmpty }

    public var isTunnel: Bool { state == .tunnel }

    // MARK: Client side

    public mutating func clientData(_ bytes: [UInt8]) -> [Action] {
        switch state {
        case .tunnel: return [.toBackend(bytes)]
        case .closed: return []
        case .forwardingRequestBody:
            var actions: [Action] = []
            let (consumed, complete) = scanRequestBody(bytes, into: &actions)
            if complete { clientBuffer += bytes[consumed...] }
            return actions
        default:
            clientBuffer += bytes
            return state == .readingRequestHead ? nextRequest() : []
        }
    }

    /// The client closed its side: a request half read is dropped; otherwise nothing changes
    /// here, and the caller passes the half-close on to the backend.
    public mutating func clientClosed() -> [Action] {
        switch state {
        case .tunnel: return []
        case .readingRequestHead:
            state = .closed
            return [.closeClient]
        default:
            return []
        }
    }

    // MARK: Backend side

    /// The backend connection for the routed request is up: the head (and any body bytes that
    /// came with it) go out.
    public mutating func backendConnected() -> [Action] {
        guard state == .connecting else { return [] }
        var actions: [Action] = [.toBackend(pendingHead)]
        pendingHead = []
        if requestBodyDone {
            state = .awaitingResponseHead
        } else {
            state = .forwardingRequestBody
            let buffered = clientBuffer
            clientBuffer = []
            let (consumed, complete) = scanRequestBody(buffered, into: &actions)
            if complete { clientBuffer = Array(buffered[consumed...]) }
        }
        return actions
    }

    /// The backend could not be reached or woken: the client gets `status` and is closed.
    public mutating func backendFailed(status: Int, retryAfterSeconds: Int? = nil, detail: String? = nil) -> [Action] {
        state = .closed
        currentService = nil
        return [.toClient(HTTPErrorResponse.bytes(status: status, retryAfterSeconds: retryAfterSeconds, detail: detail)),
                .closeClient]
    }

    public mutating func backendData(_ bytes: [UInt8]) -> [Action] {
        switch state {
        case .tunnel: return [.toClient(bytes)]
        case .awaitingResponseHead, .forwardingRequestBody:
            // A response may come before the request body ends (an early 4xx): take it.
            backendBuffer += bytes
            return readResponseHead()
        case .forwardingResponseBody:
            return forwardResponseBody(bytes)
        default:
            return []  // nothing asked for: ignored (the connection is closed on the next route)
        }
    }

    /// The backend closed: a response delimited by the close is complete; one cut short closes
    /// the client (its head has been sent, no error response is possible), a missing one is a
    /// 502.
    public mutating func backendClosed() -> [Action] {
        switch state {
        case .tunnel: return []
        case .forwardingResponseBody:
            state = .closed
            return [.closeClient]
        case .awaitingResponseHead, .forwardingRequestBody, .connecting:
            return backendFailed(status: 502, detail: "the backend closed the connection")
        default:
            currentService = nil
            return []
        }
    }

    // MARK: Steps

    private mutating func nextRequest() -> [Action] {
        guard state == .readingRequestHead, !clientBuffer.isEmpty else { return [] }
        let parsed: (head: HTTPHead, length: Int)?
        do {
            parsed = try HTTPHeadParser.parse(clientBuffer, isRequest: true, limit: headLimit)
        } catch .tooLarge {
            return backendFailed(status: 431)
        } catch {
            if case .malformed(let reason) = error { return backendFailed(status: 400, detail: reason) }
            return backendFailed(status: 400)
        }
        guard let (head, length) = parsed else { return [] }
        clientBuffer.removeFirst(length)
        guard case .request(let method, _) = head.kind else { return backendFailed(status: 400) }
        self.method = method
        requestKeepsAlive = head.keepsAlive
        requests += 1
        guard let service = routes.service(host: head.host, path: head.path) else {
            unroutedRequests += 1
            return backendFailed(status: 404, detail: "no service for \(head.host ?? "this host")\(head.path)")
        }
        requestBody = HTTPBodyScanner(HTTPBodyLength.of(request: head))
        requestBodyDone = requestBody.isComplete
        pendingHead = HTTPForwardedHeaders.rewrite(head, client: client, isTLS: isTLS, host: head.host, fields: forwarded)
        var actions: [Action] = []
        if let current = currentService, current != service { actions.append(.closeBackend) }
        currentService = service
        state = .connecting
        actions.append(.route(service: service))
        return actions
    }

    /// Forwards the request body's bytes at the start of `bytes`; returns what it consumed.
    private mutating func scanRequestBody(_ bytes: [UInt8], into actions: inout [Action]) -> (Int, Bool) {
        do {
            let (consumed, complete) = try requestBody.scan(bytes)
            if consumed > 0 { actions.append(.toBackend(Array(bytes[..<consumed]))) }
            if complete {
                requestBodyDone = true
                if state == .forwardingRequestBody { state = .awaitingResponseHead }
            }
            return (consumed, complete)
        } catch {
            actions += backendFailed(status: 400, detail: "bad request body")
            return (bytes.count, false)
        }
    }

    private mutating func readResponseHead() -> [Action] {
        let parsed: (head: HTTPHead, length: Int)?
        do {
            parsed = try HTTPHeadParser.parse(backendBuffer, isRequest: false, limit: headLimit)
        } catch {
            return backendFailed(status: 502, detail: "the backend sent a bad response")
        }
        guard let (head, length) = parsed, case .response(let status) = head.kind else { return [] }
        let headBytes = Array(backendBuffer[..<length])
        let rest = Array(backendBuffer[length...])
        backendBuffer = []
        var actions: [Action] = [.toClient(headBytes)]
        if status == 101 || (method == "CONNECT" && (200..<300).contains(status)) {
            state = .tunnel
            actions.append(.tunnel)
            if !rest.isEmpty { actions.append(.toClient(rest)) }
            if !clientBuffer.isEmpty { actions.append(.toBackend(clientBuffer)); clientBuffer = [] }
            return actions
        }
        if (100..<200).contains(status) {
            // Interim (100 Continue, 103 Early Hints): the final response follows.
            backendBuffer = rest
            return actions + (rest.isEmpty ? [] : readResponseHead())
        }
        responseBody = HTTPBodyScanner(HTTPBodyLength.of(response: head, method: method))
        let responseKeepsAlive = head.keepsAlive
        if !responseKeepsAlive { requestKeepsAlive = false }
        state = .forwardingResponseBody
        if responseBody.isComplete { return actions + finishResponse(leftover: rest) }
        return actions + (rest.isEmpty ? [] : forwardResponseBody(rest))
    }

    private mutating func forwardResponseBody(_ bytes: [UInt8]) -> [Action] {
        do {
            let (consumed, complete) = try responseBody.scan(bytes)
            var actions: [Action] = consumed > 0 ? [.toClient(Array(bytes[..<consumed]))] : []
            if complete { actions += finishResponse(leftover: Array(bytes[consumed...])) }
            return actions
        } catch {
            state = .closed
            return [.closeClient]
        }
    }

    /// The response is complete: the next request, or the end of the connection.
    private mutating func finishResponse(leftover: [UInt8]) -> [Action] {
        guard requestKeepsAlive, requestBodyDone, leftover.isEmpty else {
            // Bytes after a complete response, or a close asked for: the connection ends.
            state = .closed
            currentService = nil
            return [.closeBackend, .closeClient]
        }
        state = .readingRequestHead
        return nextRequest()
    }
}
