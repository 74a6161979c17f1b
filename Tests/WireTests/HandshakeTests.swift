import Testing
import Wire

private let secret = Array("cluster-secret".utf8)

private func config(_ id: String, role: NodeRole = .router, cluster: String = "prod", secret: [UInt8] = secret) -> HandshakeConfiguration {
    HandshakeConfiguration(nodeID: id, role: role, clusterName: cluster, secret: secret)
}

private func nonce(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

/// Runs two handshakes against each other through an in-memory "network" that also
/// pushes every message through the real encoder and decoder. Returns each side's last actions.
private func converse(_ connecting: inout Handshake, _ accepting: inout Handshake) throws -> (connecting: [Handshake.Action], accepting: [Handshake.Action]) {
    var toAccepting = connecting.start()
    _ = accepting.start()
    var connectingLog: [Handshake.Action] = toAccepting
    var acceptingLog: [Handshake.Action] = []
    var rounds = 0
    while rounds < 10 {
        rounds += 1
        var toConnecting: [Handshake.Action] = []
        for case .send(let message) in toAccepting {
            let actions = accepting.onMessage(try viaWire(message))
            acceptingLog += actions
            toConnecting += actions
        }
        toAccepting = []
        for case .send(let message) in toConnecting {
            let actions = connecting.onMessage(try viaWire(message))
            connectingLog += actions
            toAccepting += actions
        }
        if toAccepting.isEmpty && toConnecting.isEmpty { break }
    }
    return (connectingLog, acceptingLog)
}

private func viaWire(_ message: WireMessage) throws -> WireMessage {
    let stream = try encodeStream([message])
    let frame = try #require(try DecoderVerifier.decode(stream).get().frames.first)
    return try frame.payload.withUnsafeBytes { try WireMessage.decode(type: frame.header.type, payload: $0) }
}

@Suite struct HandshakeTests {
    @Test func sameSecretAndCluster_establishesBothSides_withEachOthersIdentity() throws {
        var gateway = Handshake(side: .connecting, configuration: config("gw-1", role: .gateway), nonce: nonce(1))
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        let (c, a) = try converse(&gateway, &router)
        #expect(c.contains(.established(PeerIdentity(nodeID: "router-a", role: .router))))
        #expect(a.contains(.established(PeerIdentity(nodeID: "gw-1", role: .gateway))))
        #expect(gateway.peer?.nodeID == "router-a")
        #expect(router.peer?.nodeID == "gw-1")
    }

    @Test func wrongSecretOnConnectingSide_isRefusedByTheAcceptor() throws {
        var gateway = Handshake(side: .connecting, configuration: config("gw-1", secret: Array("guess".utf8)), nonce: nonce(1))
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        let (c, a) = try converse(&gateway, &router)
        // The connector notices first: the acceptor's proof does not verify under its secret.
        #expect(c.last == .fail(.authenticationFailed))
        #expect(router.peer == nil && gateway.peer == nil)
        #expect(!a.contains { if case .established = $0 { true } else { false } })
    }

    @Test func forgedAuthenticateProof_isRefused() {
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        _ = router.start()
        let hello = WireMessage.Hello(protocolVersion: 1, nodeID: "mallory", role: .gateway, clusterName: "prod", nonce: nonce(3))
        let challenge = router.onMessage(.hello(hello))
        #expect(challenge.count == 1)
        // Reflecting the acceptor's own proof back must not work: the labels differ.
        guard case .send(.challenge(let sent)) = challenge.first else {
            Issue.record("expected a challenge")
            return
        }
        #expect(router.onMessage(.authenticate(proof: sent.proof)) == [.fail(.authenticationFailed)])
        #expect(router.peer == nil)
    }

    @Test func otherCluster_isRefusedWithClusterMismatch() throws {
        var gateway = Handshake(side: .connecting, configuration: config("gw-1", cluster: "staging"), nonce: nonce(1))
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        let (_, a) = try converse(&gateway, &router)
        #expect(a == [.fail(.clusterMismatch("staging"))])
    }

    @Test func olderProtocolVersion_isRefused() {
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        _ = router.start()
        let hello = WireMessage.Hello(protocolVersion: 0, nodeID: "old", role: .router, clusterName: "prod", nonce: nonce(3))
        #expect(router.onMessage(.hello(hello)) == [.fail(.unsupportedVersion(0))])
    }

    @Test func newerProtocolVersion_isAcceptedAtOurVersion() {
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        _ = router.start()
        let hello = WireMessage.Hello(protocolVersion: 7, nodeID: "new", role: .router, clusterName: "prod", nonce: nonce(3))
        guard case .send(.challenge) = router.onMessage(.hello(hello)).first else {
            Issue.record("a newer peer should get a challenge")
            return
        }
    }

    @Test func anyOtherFrameBeforeHandshake_isNotAuthenticated() {
        for message in [WireMessage.ping(token: 1), .conversationEvent(conversationID: "c", sequence: 1, body: []), .welcome] {
            var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
            _ = router.start()
            #expect(router.onMessage(message) == [.fail(.notAuthenticated)])
        }
    }

    @Test func errorFromPeer_failsWithTheRemoteCode_andSendsNothingBack() {
        var gateway = Handshake(side: .connecting, configuration: config("gw-1"), nonce: nonce(1))
        _ = gateway.start()
        #expect(gateway.onMessage(.error(code: 11, message: "wrong cluster")) == [.fail(.remote(code: 11, message: "wrong cluster"))])
    }

    @Test func timeout_failsUnlessEstablished() throws {
        var gateway = Handshake(side: .connecting, configuration: config("gw-1"), nonce: nonce(1))
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        _ = try converse(&gateway, &router)
        #expect(gateway.onTimeout() == [])
        var lonely = Handshake(side: .accepting, configuration: config("router-b"), nonce: nonce(2))
        _ = lonely.start()
        #expect(lonely.onTimeout() == [.fail(.handshakeTimeout)])
    }

    @Test func secondHelloAfterChallenge_isRefused() {
        var router = Handshake(side: .accepting, configuration: config("router-a"), nonce: nonce(2))
        _ = router.start()
        let hello = WireMessage.Hello(protocolVersion: 1, nodeID: "gw", role: .gateway, clusterName: "prod", nonce: nonce(3))
        _ = router.onMessage(.hello(hello))
        #expect(router.onMessage(.hello(hello)) == [.fail(.notAuthenticated)])
    }
}
