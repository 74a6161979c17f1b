import Wire

/// An HTTP response to write.
public struct HTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields besides Content-Length, Connection and Date, which are added.
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]

    /// A response.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        (self.status, self.headers, self.body) = (status, headers, body)
    }

    /// A plain-text response.
    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array((text + "\n").utf8))
    }

    /// A JSON response.
    public static func json(_ status: Int, _ json: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: json)
    }

    /// The bytes on the wire.
    public func serialized(keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        head += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n"
        head += "\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }

    /// The reason phrase of a status code.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

/// A token bucket: `rate` events per second on average, bursts up to `burst`. Pure: time
/// is passed in.
public struct RateLimiter: Sendable {
    /// Events per second allowed on average.
    public let rate: Double
    /// Largest burst.
    public let burst: Double
    private var tokens: Double
    private var last: UInt64?

    /// A full bucket.
    public init(rate: Double, burst: Double) {
        (self.rate, self.burst, tokens) = (rate, burst, burst)
    }

    /// Takes one token at `now` (ns); false when the bucket is empty.
    public mutating func allow(now: UInt64) -> Bool {
        if let last { tokens = min(burst, tokens + Double(now &- last) / 1e9 * rate) }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
