import Foundation
import Gateway
import Glibc
import Testing
import Wire

/// Answers every request with 200 "ok".
private final class OK: HTTPHandler {
    func handle(_ request: HTTPRequest, client: String, connection: HTTPConnection) -> HTTPAction { .respond(.text(200, "ok")) }
}

/// Regression tests (issue 10) on a real socket: a client sending one header byte every
/// few seconds stayed connected for as long as it liked, and only the process's file limit
/// bounded how many such connections one address could hold.
@Suite(.serialized) struct HTTPLimitsTests {
    private func server(_ options: HTTPServerOptions) throws -> (EventLoopGroup, TCPServer) {
        let group = EventLoopGroup(loopCount: 1, name: "http-limits")
        let budget = SharedConnectionBudget(options)
        let handler = UncheckedBox(OK())
        let server = try TCPServer(group: group, address: SocketAddress(host: "127.0.0.1", port: 0)!, options: options.connection) { _ in
            HTTPConnection(handler: handler.value, options: options, budget: budget)
        }
        return (group, server)
    }

    @Test(.timeLimit(.minutes(1))) func aHeadSentOneByteAtATime_isCutOffAtItsDeadline_with408() throws {
        var options = HTTPServerOptions()
        options.requestHeadTimeout = Nanoseconds.milliseconds(300)
        let (group, server) = try server(options)
        defer {
            server.close()
            group.shutdown()
        }
        let client = try RawClient(port: server.address.port)
        let started = Date()
        // A byte every 50 ms keeps the idle timer (60 s) from ever firing; the head
        // deadline must end it anyway. The writer stops when the server hangs up.
        let box = UncheckedBox(client)
        let trickle = Thread {
            let client = box.value
            for byte in Array("GET / HTTP/1.1\r\nHost: example\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 200) {
                client.send([byte])
                usleep(50_000)
            }
        }
        trickle.start()
        let (text, closed) = client.readTextUntilClosed()
        #expect(text.hasPrefix("HTTP/1.1 408"), "\(text)")
        #expect(closed)
        #expect(Date().timeIntervalSince(started) < 3, "closed at the 300 ms deadline, not at the idle timeout")
    }

    @Test(.timeLimit(.minutes(1))) func aWholeRequest_isAnswered_andTheNextOneGetsItsOwnDeadline() throws {
        var options = HTTPServerOptions()
        options.requestHeadTimeout = Nanoseconds.milliseconds(400)
        let (group, server) = try server(options)
        defer {
            server.close()
            group.shutdown()
        }
        let client = try RawClient(port: server.address.port)
        // Each request takes 250 ms to arrive (under the deadline); three of them in a row
        // take longer than one deadline, and all are answered.
        for n in 0..<3 {
            let request = Array("GET /\(n) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            client.send(Array(request.prefix(5)))
            usleep(250_000)
            client.send(Array(request.dropFirst(5)))
        }
        client.send(Array("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n".utf8))
        let (text, _) = client.readTextUntilClosed()
        #expect(text.components(separatedBy: "HTTP/1.1 200").count - 1 == 4, "\(text)")
    }

    @Test(.timeLimit(.minutes(1))) func connectionsPastThePerAddressLimit_get503_andClosingOneMakesRoom() throws {
        var options = HTTPServerOptions()
        options.maxConnectionsPerAddress = 3
        let (group, server) = try server(options)
        defer {
            server.close()
            group.shutdown()
        }
        let held = try (0..<3).map { _ in try RawClient(port: server.address.port) }
        // The server counts a connection when it opens; ask the held ones something to be
        // sure all three are counted before the fourth comes.
        for client in held { client.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) }
        for client in held {
            var buffer = [UInt8](repeating: 0, count: 512)
            #expect(buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) } > 0)
        }
        let refused = try RawClient(port: server.address.port)
        let (text, closed) = refused.readTextUntilClosed()
        #expect(text.hasPrefix("HTTP/1.1 503") && text.contains("too many connections from your address"), "\(text)")
        #expect(closed)
        // One of the three goes: a new connection is served again (the count is released
        // on the server's loop, so ask until it has been, within the time limit).
        shutdown(held[0].fd, Int32(SHUT_RDWR))
        var served = false
        for _ in 0..<100 where !served {
            let again = try RawClient(port: server.address.port)
            again.send(Array("GET / HTTP/1.1\r\nConnection: close\r\n\r\n".utf8))
            served = again.readTextUntilClosed().text.hasPrefix("HTTP/1.1 200")
            if !served { usleep(20_000) }
        }
        #expect(served)
    }

    @Test(.timeLimit(.minutes(1))) func connectionsPastTheTotalLimit_get503() throws {
        var options = HTTPServerOptions()
        options.maxConnections = 2
        options.maxConnectionsPerAddress = 0
        let (group, server) = try server(options)
        defer {
            server.close()
            group.shutdown()
        }
        let held = try (0..<2).map { _ in try RawClient(port: server.address.port) }
        for client in held { client.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) }
        for client in held {
            var buffer = [UInt8](repeating: 0, count: 512)
            #expect(buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) } > 0)
        }
        let (text, _) = try RawClient(port: server.address.port).readTextUntilClosed()
        #expect(text.hasPrefix("HTTP/1.1 503") && text.contains("connection limit"), "\(text)")
    }
}
