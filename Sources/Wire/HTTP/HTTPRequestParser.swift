import Foundation

/// An HTTP/1.x request, whole.
public struct HTTPRequest: Equatable, Sendable {
    /// The method, as sent ("GET").
    public var method: String
    /// The request target ("/widget.js?site=shop").
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Header fields in order; names as sent.
    public var headers: [(name: String, value: String)]
    /// The body (de-chunked).
    public var body: [UInt8]

    /// A request (tests, and requests built by hand).
    public init(method: String, target: String, minorVersion: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        (self.method, self.target, self.minorVersion, self.headers, self.body) = (method, target, minorVersion, headers, body)
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Whether the connection stays open after the response (RFC 9112 9.3).
    public var keepAlive: Bool {
        let tokens = (header("connection") ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return minorVersion >= 1 ? !tokens.contains("close") : tokens.contains("keep-alive")
    }

    /// The path part of the target, without the query.
    public var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.minorVersion == rhs.minorVersion
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
            && lhs.body == rhs.body
    }
}

/// Why a request was refused, as the status code to answer with before closing.
public struct HTTPParseError: Error, Equatable, Sendable {
    /// 400, 413, 414, 431, 501 or 505.
    public var status: Int
    /// What was wrong, for the response body and the log.
    public var reason: String
}

/// Limits applied before anything is buffered past them.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (default 8 KiB; longer is 414).
    public var requestLineBytes = 8 * 1024
    /// Most bytes of header fields (default 16 KiB; more is 431).
    public var headerBytes = 16 * 1024
    /// Most header fields (default 100; more is 431).
    public var headerCount = 100
    /// Largest body (default 1 MiB; larger is 413).
    public var bodyBytes = 1 << 20
    /// The defaults.
    public init() {}
}

/// Incremental HTTP/1.1 request parser (RFC 9112): bytes in, whole requests out, pipelined
/// requests one after another. Pure value type; the connection only feeds it. Refuses what
/// smuggling attacks rely on: both Content-Length and Transfer-Encoding, differing
/// Content-Lengths, obsolete line folding, whitespace before the colon.
public struct HTTPRequestParser: Sendable {
    /// The limits in force.
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var head: HTTPRequest?
    /// Bytes after `consumed` already searched for the end of the head, so a request that
    /// arrives one byte at a time costs linear, not quadratic, work.
    private var headSearched = 0
    private var body: BodyState = .none

    private enum BodyState: Sendable {
        case none
        case length(Int)
        case chunked(ChunkState)
    }

    private enum ChunkState: Sendable {
        case size
        case data(Int)
        case dataEnd
        case trailers
    }

    /// What part of a request the parser is in the middle of.
    public enum Pending: Sendable, Equatable {
        /// Between requests: nothing buffered.
        case none
        /// Some bytes of a request head, not yet all of it.
        case head
        /// A whole head; its body is still coming.
        case body
    }

    /// What part of a request is partly received (for the connection's deadlines).
    public var pending: Pending {
        if head != nil { return .body }
        return buffer.count > consumed ? .head : .none
    }

    /// Requests returned so far (tells one request's deadline from the next one's).
    public private(set) var requestsParsed = 0

    /// A parser with `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Feeds bytes (a WebSocket upgrade's first frames may follow a request: see
    /// `takeRemainingBytes`).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if consumed > 0 && consumed >= buffer.count / 2 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole request, or nil until more bytes arrive. After an error the
    /// connection is to be answered with `status` and closed.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        if head == nil {
            guard let request = try parseHead() else { return nil }
            head = request
        }
        while true {
            switch body {
            case .none:
                return finish()
            case .length(let length):
                guard buffer.count - consumed >= length else { return nil }
                head!.body = Array(buffer[consumed..<(consumed + length)])
                consumed += length
                return finish()
            case .chunked(let state):
                guard try stepChunked(state) else { return nil }
            }
        }
    }

    /// Bytes received after the last request (for a protocol switch).
    public mutating func takeRemainingBytes() -> [UInt8] {
        defer {
            buffer.removeAll()
            consumed = 0
        }
        return Array(buffer[consumed...])
    }

    private mutating func finish() -> HTTPRequest {
        defer {
            head = nil
            body = .none
            requestsParsed += 1
        }
        return head!
    }

    // MARK: head

    private mutating func parseHead() throws(HTTPParseError) -> HTTPRequest? {
        let maxHead = limits.requestLineBytes + limits.headerBytes + 4
        let resume = max(0, headSearched - 3)
        guard let end = find([13, 10, 13, 10], from: consumed + resume, limit: maxHead - resume) else {
            let pending = buffer.count - consumed
            headSearched = pending
            // Decided as the whole head is split below, so that pieces and the whole agree (two
            // fuzzer findings): lines end at LF, and the first line may lose up to two CRs
            // before it (the one of the head's end, and one dropped from the line). With no LF
            // in the first limit + 3 bytes the line is over the limit however it ends.
            if pending >= limits.requestLineBytes + 3 && find([10], from: consumed, limit: limits.requestLineBytes + 3) == nil {
                throw HTTPParseError(status: 414, reason: "request line over \(limits.requestLineBytes) bytes")
            }
            if pending >= maxHead { throw HTTPParseError(status: 431, reason: "header section over \(limits.headerBytes) bytes") }
            return nil
        }
        let lines = buffer[consumed..<end].split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line[...]
        }
        consumed = end + 4
        headSearched = 0
        guard let requestLine = lines.first, requestLine.count <= limits.requestLineBytes else {
            throw HTTPParseError(status: 414, reason: "request line over \(limits.requestLineBytes) bytes")
        }
        let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].allSatisfy(Self.isTokenByte) else {
            throw HTTPParseError(status: 400, reason: "malformed request line")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        let minor: Int
        switch version {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default:
            guard version.hasPrefix("HTTP/") else { throw HTTPParseError(status: 400, reason: "malformed request line") }
            throw HTTPParseError(status: 505, reason: "\(version) is not supported")
        }
        let fieldLines = lines.dropFirst()
        guard fieldLines.count <= limits.headerCount else { throw HTTPParseError(status: 431, reason: "more than \(limits.headerCount) header fields") }
        guard fieldLines.reduce(0, { $0 + $1.count + 2 }) <= limits.headerBytes else {
            throw HTTPParseError(status: 431, reason: "header section over \(limits.headerBytes) bytes")
        }
        var headers: [(name: String, value: String)] = []
        for line in fieldLines {
            guard let first = line.first, first != 32, first != 9 else { throw HTTPParseError(status: 400, reason: "obsolete line folding") }
            guard let colon = line.firstIndex(of: 58) else { throw HTTPParseError(status: 400, reason: "header field without a colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else { throw HTTPParseError(status: 400, reason: "invalid header name") }
            let rawValue = line[line.index(after: colon)...]
            guard rawValue.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
                throw HTTPParseError(status: 400, reason: "control character in a header value")
            }
            let value = String(decoding: rawValue, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            headers.append((String(decoding: name, as: UTF8.self), value))
        }
        let request = HTTPRequest(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
                                  minorVersion: minor, headers: headers, body: [])
        body = try bodyState(of: request)
        return request
    }

    private func bodyState(of request: HTTPRequest) throws(HTTPParseError) -> BodyState {
        let lengths = request.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let encodings = request.headers.filter { $0.name.lowercased() == "transfer-encoding" }.map(\.value)
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw HTTPParseError(status: 400, reason: "both Content-Length and Transfer-Encoding") }
            guard encodings.count == 1, encodings[0].lowercased() == "chunked" else {
                throw HTTPParseError(status: 501, reason: "transfer encoding \(encodings.joined(separator: ", ")) is not supported")
            }
            return .chunked(.size)
        }
        guard let first = lengths.first else { return .none }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 12, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let length = Int(first) else {
            throw HTTPParseError(status: 400, reason: "invalid Content-Length")
        }
        guard length <= limits.bodyBytes else { throw HTTPParseError(status: 413, reason: "body over \(limits.bodyBytes) bytes") }
        return length == 0 ? .none : .length(length)
    }

    // MARK: chunked bodies

    /// Advances the chunked body by one step; false when more bytes are needed.
    private mutating func stepChunked(_ state: ChunkState) throws(HTTPParseError) -> Bool {
        switch state {
        case .size:
            guard let end = find([13, 10], from: consumed, limit: 1024) else {
                if buffer.count - consumed > 1024 { throw HTTPParseError(status: 400, reason: "chunk size line too long") }
                return false
            }
            guard let size = Self.chunkSize(buffer[consumed..<end]) else {
                throw HTTPParseError(status: 400, reason: "invalid chunk size")
            }
            consumed = end + 2
            guard size <= limits.bodyBytes - head!.body.count else { throw HTTPParseError(status: 413, reason: "body over \(limits.bodyBytes) bytes") }
            body = .chunked(size == 0 ? .trailers : .data(size))
        case .data(let size):
            guard buffer.count - consumed >= size else { return false }
            head!.body += buffer[consumed..<(consumed + size)]
            consumed += size
            body = .chunked(.dataEnd)
        case .dataEnd:
            guard buffer.count - consumed >= 2 else { return false }
            guard buffer[consumed] == 13, buffer[consumed + 1] == 10 else { throw HTTPParseError(status: 400, reason: "chunk not followed by CRLF") }
            consumed += 2
            body = .chunked(.size)
        case .trailers:
            // Trailer fields are read and dropped; an empty line ends the body.
            guard let end = find([13, 10], from: consumed, limit: limits.headerBytes) else {
                if buffer.count - consumed > limits.headerBytes { throw HTTPParseError(status: 431, reason: "trailers too long") }
                return false
            }
            let empty = end == consumed
            consumed = end + 2
            if empty { body = .none }
        }
        return true
    }

    /// The size of a chunk size line (RFC 9112 7.1: `chunk-size = 1*HEXDIG`, then optional
    /// extensions after ";", which are ignored), or nil when it is not one. Hex digits only:
    /// no sign, no "0x", no spaces inside; at most 8 digits, so the value is bounded before
    /// it is ever added to anything.
    public static func chunkSize(_ line: ArraySlice<UInt8>) -> Int? {
        var size = 0
        var digits = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = hexValue(line[index]) {
            digits += 1
            guard digits <= 8 else { return nil }
            size = size << 4 | digit
            index += 1
        }
        guard digits > 0 else { return nil }
        // Bad whitespace may come before the ";" of an extension (RFC 9112 7.1.1).
        while index < line.endIndex, line[index] == 32 || line[index] == 9 { index += 1 }
        guard index == line.endIndex || line[index] == 59 else { return nil }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    // MARK: helpers

    /// The index of `pattern` in the buffer at or after `start`, looking at most `limit` bytes.
    private func find(_ pattern: [UInt8], from start: Int, limit: Int) -> Int? {
        let end = min(buffer.count, start + limit) - pattern.count
        guard end >= start else { return nil }
        var index = start
        while index <= end {
            if buffer[index] == pattern[0] {
                var match = true
                for offset in 1..<pattern.count where buffer[index + offset] != pattern[offset] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }

    /// RFC 9110 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
