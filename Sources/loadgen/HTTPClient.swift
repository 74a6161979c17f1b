import Foundation
import Glibc
import Wire

/// Blocking HTTP/1.1 requests over a plain socket (set-up and /metrics only, never measured).
enum HTTPClient {
    /// POSTs `json` and returns the JSON object answered.
    static func post(_ address: SocketAddress, path: String, json: [String: Any]) throws -> [String: Any] {
        let body = JSONText.serialize(json)
        let answer = try request(address, "POST \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Type: application/json\r\n"
                                 + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n", body: body)
        guard let object = JSONParser.parse(answer) as? [String: Any] else {
            throw Arguments.Failure(description: "unexpected response to POST \(path)")
        }
        return object
    }

    /// GETs `path` and returns the body as text.
    static func get(_ address: SocketAddress, path: String) throws -> String {
        String(decoding: try request(address, "GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n", body: []), as: UTF8.self)
    }

    /// A Prometheus gauge or counter from a node's /metrics.
    static func metric(_ name: String, at address: SocketAddress) throws -> Double? {
        try get(address, path: "/metrics").split(separator: "\n").lazy
            .compactMap { line -> Double? in line.hasPrefix(name + " ") ? Double(line.dropFirst(name.count + 1)) : nil }.first
    }

    /// Sends one request on a new connection and returns the response body.
    private static func request(_ address: SocketAddress, _ head: String, body: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Arguments.Failure(description: "socket failed") }
        defer { Glibc.close(fd) }
        let connected = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard connected == 0 else { throw Arguments.Failure(description: "cannot connect to \(address)") }
        let bytes = Array(head.utf8) + body
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        guard let end = response.firstRange(of: [13, 10, 13, 10]) else { throw Arguments.Failure(description: "no HTTP response from \(address)") }
        return Array(response[end.upperBound...])
    }
}
