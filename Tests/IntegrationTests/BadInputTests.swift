import Foundation
import Testing
@testable import Wire

/// A server with one healthy, established client on the side. Each bad-input test checks
/// the documented error code, the close, and that the healthy client is untouched.
final class BadInputFixture {
    let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
    let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
    let serverEvents = Shared(PeerEvents())
    let healthyEvents = Shared(PeerEvents())
    let server: WireServer
    let healthy: UncheckedBox<WireClient>

    init(configuration: WireConfiguration = wireConfiguration("router")) throws {
        let events = serverEvents
        server = try WireServer(group: serverGroup, address: loopback, configuration: configuration) { _ in
            RecordingDelegate(events)
        }
        let loop = clientGroup.loops[0]
        let address = server.address
        let healthyEvents = healthyEvents
        healthy = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: address, configuration: wireConfiguration("healthy-gw"),
                                    delegate: RecordingDelegate(healthyEvents))
            client.start()
            return UncheckedBox(client)
        }
        #expect(healthyEvents.wait { $0.established.count == 1 })
    }

    /// The healthy client can still do a round trip (the peer answers its ping with a pong).
    func healthyClientStillWorks() throws -> Bool {
        let before = serverEvents.read { $0.frames }
        try clientGroup.loops[0].submitAndWait { [healthy] in
            try healthy.value.peer?.send(.subscribe(conversationID: "c-1", afterSequence: 0))
        }
        let arrived = serverEvents.wait { $0.frames == before + 1 }
        return arrived && healthyEvents.read { $0.closes.isEmpty }
    }

    /// Opens a raw socket, completes a real handshake on it, and returns it.
    func authenticatedRawClient(secret: [UInt8] = testSecret) throws -> RawClient {
        let raw = try RawClient(port: server.address.port)
        var handshake = Handshake(side: .connecting, configuration: wireConfiguration("raw", secret: secret).handshake,
                                  nonce: [UInt8](repeating: 9, count: 32))
        for case .send(let message) in handshake.start() { raw.send(encodeFrame(message)) }
        while handshake.peer == nil {
            guard let reply = raw.readFrame() else { break }
            for case .send(let message) in handshake.onMessage(reply) { raw.send(encodeFrame(message)) }
        }
        return raw
    }

    deinit {
        try? clientGroup.loops[0].submitAndWait { [healthy] in healthy.value.stop() }
        server.close()
        serverGroup.shutdown()
        clientGroup.shutdown()
    }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct BadInputTests {
    private func expectErrorThenClose(_ raw: RawClient, code: UInt16, sourceLocation: SourceLocation = #_sourceLocation) {
        let (frames, closed) = raw.readUntilClosed()
        #expect(closed, "server should close the connection", sourceLocation: sourceLocation)
        guard case .error(let got, _)? = frames.last else {
            Issue.record("expected an error frame, got \(frames)", sourceLocation: sourceLocation)
            return
        }
        #expect(got == code, sourceLocation: sourceLocation)
    }

    @Test func frameBeforeHandshake_getsNotAuthenticated() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        raw.send(encodeFrame(.command(sessionID: 1, principal: Principal(site: "shop", role: .visitor, id: "v"), command: .departments)))
        expectErrorThenClose(raw, code: WireError.notAuthenticated.code)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func wrongSecret_getsAuthenticationFailed_fromTheServer() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        // An attacker skips checking the server's proof and just sends a made-up one.
        raw.send(encodeFrame(.hello(.init(protocolVersion: 1, nodeID: "mallory", role: .gateway, clusterName: "test",
                                          nonce: [UInt8](repeating: 1, count: 32)))))
        guard case .challenge? = raw.readFrame() else {
            Issue.record("expected a challenge")
            return
        }
        raw.send(encodeFrame(.authenticate(proof: [UInt8](repeating: 0, count: 32))))
        expectErrorThenClose(raw, code: WireError.authenticationFailed.code)
        #expect(fixture.serverEvents.wait { $0.closes.contains(.protocolError(.authenticationFailed)) })
        #expect(fixture.serverEvents.read { $0.established.map(\.nodeID) } == ["healthy-gw"])
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func clientWithWrongSecret_refusesTheServer_andTellsIt() throws {
        let fixture = try BadInputFixture()
        let events = Shared(PeerEvents())
        let loop = fixture.clientGroup.loops[0]
        let address = fixture.server.address
        let client = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: address, configuration: wireConfiguration("gw", secret: Array("wrong".utf8)),
                                    delegate: RecordingDelegate(events))
            client.start()
            return UncheckedBox(client)
        }
        #expect(events.wait { !$0.closes.isEmpty })
        try loop.submitAndWait { client.value.stop() }
        #expect(events.read { $0.closes.first } == .protocolError(.authenticationFailed))
        #expect(events.read { $0.established.isEmpty })
        #expect(fixture.serverEvents.wait { $0.closes.contains(.protocolError(.remote(code: 10, message: "authentication failed"))) })
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func otherCluster_getsClusterMismatch() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        raw.send(encodeFrame(.hello(.init(protocolVersion: 1, nodeID: "x", role: .router, clusterName: "elsewhere",
                                          nonce: [UInt8](repeating: 1, count: 32)))))
        expectErrorThenClose(raw, code: 11)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func unknownMessageType_afterHandshake_getsUnknownType() throws {
        let fixture = try BadInputFixture()
        let raw = try fixture.authenticatedRawClient()
        raw.send(rawFrameBytes(type: 4242, payload: []))
        expectErrorThenClose(raw, code: 3)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func lengthOverTheLimit_getsFrameTooLarge_withoutThePayloadBeingSent() throws {
        let fixture = try BadInputFixture()
        let raw = try fixture.authenticatedRawClient()
        raw.send(rawFrameBytes(type: MessageType.command.rawValue, length: 0x7FFF_FFFF, payload: []))
        expectErrorThenClose(raw, code: 2)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func corruptLZ4_getsCorruptCompressedPayload() throws {
        let fixture = try BadInputFixture()
        let raw = try fixture.authenticatedRawClient()
        raw.send(rawFrameBytes(flags: 1, type: MessageType.command.rawValue, payload: [0x90, 0x4E, 0xFF, 0xFF, 0xFF, 0x01]))
        expectErrorThenClose(raw, code: 7)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func lz4InflatingPastTheBound_getsDecompressedTooLarge() throws {
        let fixture = try BadInputFixture()
        let raw = try fixture.authenticatedRawClient()
        var payload = ByteWriter()
        payload.writeVarint(UInt64(64) << 20)
        payload.writeRaw([0x1F, 0x00])
        raw.send(rawFrameBytes(flags: 1, type: MessageType.command.rawValue, payload: payload.bytes))
        expectErrorThenClose(raw, code: 8)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func garbageBytes_getUnsupportedVersion() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        raw.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        expectErrorThenClose(raw, code: 1)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func truncatedFrame_thenHangUp_isReportedAsTruncated() throws {
        let fixture = try BadInputFixture()
        do {
            let raw = try fixture.authenticatedRawClient()
            raw.send(Array(encodeFrame(.ping(token: 1)).dropLast()))
        }  // the raw client closes here
        #expect(fixture.serverEvents.wait { $0.closes.contains(.protocolError(.truncatedFrame(bufferedBytes: 12))) })
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func invalidUTF8_inAHandshakeField_getsInvalidUTF8() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        var payload = ByteWriter()
        payload.writeVarint(1)
        payload.writeBytes([0xC3, 0x28])
        raw.send(rawFrameBytes(type: MessageType.hello.rawValue, payload: payload.bytes))
        expectErrorThenClose(raw, code: 6)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func varintOverflow_getsVarintOverflow() throws {
        let fixture = try BadInputFixture()
        let raw = try RawClient(port: fixture.server.address.port)
        raw.send(rawFrameBytes(type: MessageType.hello.rawValue, payload: [UInt8](repeating: 0xFF, count: 11)))
        expectErrorThenClose(raw, code: 5)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func silentConnection_getsHandshakeTimeout() throws {
        let fixture = try BadInputFixture(configuration: wireConfiguration("router", handshakeTimeout: Nanoseconds.milliseconds(200)))
        let raw = try RawClient(port: fixture.server.address.port)
        expectErrorThenClose(raw, code: 18)
        #expect(try fixture.healthyClientStillWorks())
    }

    @Test func idlePeer_isClosedAfterTheIdleTimeout() throws {
        let options = ConnectionOptions(idleTimeout: Nanoseconds.milliseconds(300))
        let fixture = try BadInputFixture(configuration: wireConfiguration("router", connection: options))
        let raw = try fixture.authenticatedRawClient()
        let (_, closed) = raw.readUntilClosed()
        #expect(closed)
        #expect(fixture.serverEvents.wait { $0.closes.contains(.protocolError(.idleTimeout)) })
    }
}

private func rawFrameBytes(flags: UInt8 = 0, type: UInt16, length: UInt32? = nil, payload: [UInt8]) -> [UInt8] {
    var writer = ByteWriter()
    writer.writeUInt8(1)
    writer.writeUInt8(flags)
    writer.writeUInt16(type)
    writer.writeUInt32(length ?? UInt32(payload.count))
    writer.writeUInt32(0)
    writer.writeRaw(payload)
    return writer.bytes
}
