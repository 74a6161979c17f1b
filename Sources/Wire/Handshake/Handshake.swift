/// Who a node is, as far as the handshake is concerned.
public struct HandshakeConfiguration: Sendable {
    /// This node's id, unique in the cluster.
    public var nodeID: String
    /// This node's role.
    public var role: NodeRole
    /// The cluster this node belongs to; peers of other clusters are refused.
    public var clusterName: String
    /// The shared cluster secret; never sent, only proven.
    public var secret: [UInt8]

    /// A configuration from its parts.
    public init(nodeID: String, role: NodeRole, clusterName: String, secret: [UInt8]) {
        self.nodeID = nodeID
        self.role = role
        self.clusterName = clusterName
        self.secret = secret
    }
}

/// The node at the other end, once it has proven it knows the cluster secret.
public struct PeerIdentity: Equatable, Sendable {
    /// The peer's node id.
    public var nodeID: String
    /// The peer's role.
    public var role: NodeRole

    /// An identity from its parts.
    public init(nodeID: String, role: NodeRole) {
        self.nodeID = nodeID
        self.role = role
    }
}

/// The versioned, mutually authenticated handshake (docs/wire.md, "Handshake").
///
/// connecting side                       accepting side
///   Hello(version, id, role, cluster, nonceC)  ->
///                                       <-  Challenge(id, role, nonceA, proofA)
///   Authenticate(proofC)                 ->
///                                       <-  Welcome
///
/// Each proof is HMAC-SHA256(secret, label || transcript) with a different label per side,
/// over both nonces, the cluster name and both identities, so a proof can be neither
/// replayed on another connection nor reflected back at its sender.
///
/// A pure state machine: messages in, actions out; the nonce is injected.
public struct Handshake: Sendable {
    /// Which end of the connection this is.
    public enum Side: Sendable { case connecting, accepting }

    /// What the shell must do.
    public enum Action: Equatable, Sendable {
        /// Send this message to the peer.
        case send(WireMessage)
        /// The handshake succeeded; normal traffic may flow.
        case established(PeerIdentity)
        /// The handshake failed: tell the peer (unless the error came from it) and close.
        case fail(WireError)
    }

    /// The only protocol version this build speaks.
    public static let protocolVersion: UInt64 = 1

    private enum State: Sendable {
        case idle
        case awaitingHello
        case awaitingChallenge
        case awaitingAuthenticate(peerHello: WireMessage.Hello)
        case awaitingWelcome(peer: PeerIdentity)
        case established(PeerIdentity)
        case failed
    }

    private let side: Side
    private let configuration: HandshakeConfiguration
    private let nonce: [UInt8]
    private var state: State = .idle

    /// A handshake for one connection; `nonce` must be 32 fresh random bytes.
    public init(side: Side, configuration: HandshakeConfiguration, nonce: [UInt8]) {
        precondition(nonce.count == WireMessage.nonceSize, "handshake nonce must be 32 bytes")
        self.side = side
        self.configuration = configuration
        self.nonce = nonce
    }

    /// The authenticated peer, once established.
    public var peer: PeerIdentity? {
        if case .established(let peer) = state { return peer }
        return nil
    }

    /// Starts the handshake: the connecting side says hello, the accepting side waits.
    public mutating func start() -> [Action] {
        guard case .idle = state else { return [] }
        switch side {
        case .connecting:
            state = .awaitingChallenge
            return [.send(.hello(WireMessage.Hello(
                protocolVersion: Self.protocolVersion, nodeID: configuration.nodeID, role: configuration.role,
                clusterName: configuration.clusterName, nonce: nonce)))]
        case .accepting:
            state = .awaitingHello
            return []
        }
    }

    /// The handshake deadline passed.
    public mutating func onTimeout() -> [Action] {
        switch state {
        case .established, .failed: return []
        default: return fail(.handshakeTimeout)
        }
    }

    /// A message arrived before the handshake was established.
    public mutating func onMessage(_ message: WireMessage) -> [Action] {
        if case .error(let code, let text) = message {
            return fail(.remote(code: code, message: text))
        }
        switch (state, message) {
        case (.awaitingHello, .hello(let hello)):
            return onHello(hello)
        case (.awaitingAuthenticate(let hello), .authenticate(let proof)):
            let expected = Self.proof(label: "connect", secret: configuration.secret,
                                      connecting: hello, acceptingID: configuration.nodeID,
                                      acceptingRole: configuration.role, acceptingNonce: nonce)
            guard HMACSHA256.constantTimeEquals(proof, expected) else { return fail(.authenticationFailed) }
            let peer = PeerIdentity(nodeID: hello.nodeID, role: hello.role)
            state = .established(peer)
            return [.send(.welcome), .established(peer)]
        case (.awaitingChallenge, .challenge(let challenge)):
            return onChallenge(challenge)
        case (.awaitingWelcome(let peer), .welcome):
            state = .established(peer)
            return [.established(peer)]
        case (.awaitingHello, _), (.awaitingAuthenticate, _):
            return fail(.notAuthenticated)
        default:
            return fail(.unexpectedMessage(message.type.rawValue))
        }
    }

    private mutating func onHello(_ hello: WireMessage.Hello) -> [Action] {
        guard hello.protocolVersion >= Self.protocolVersion else {
            return fail(.unsupportedVersion(UInt8(clamping: hello.protocolVersion)))
        }
        guard hello.clusterName == configuration.clusterName else { return fail(.clusterMismatch(hello.clusterName)) }
        state = .awaitingAuthenticate(peerHello: hello)
        let proof = Self.proof(label: "accept", secret: configuration.secret, connecting: hello,
                               acceptingID: configuration.nodeID, acceptingRole: configuration.role,
                               acceptingNonce: nonce)
        return [.send(.challenge(WireMessage.Challenge(
            nodeID: configuration.nodeID, role: configuration.role, nonce: nonce, proof: proof)))]
    }

    private mutating func onChallenge(_ challenge: WireMessage.Challenge) -> [Action] {
        let ownHello = WireMessage.Hello(protocolVersion: Self.protocolVersion, nodeID: configuration.nodeID,
                                         role: configuration.role, clusterName: configuration.clusterName, nonce: nonce)
        let expected = Self.proof(label: "accept", secret: configuration.secret, connecting: ownHello,
                                  acceptingID: challenge.nodeID, acceptingRole: challenge.role,
                                  acceptingNonce: challenge.nonce)
        guard HMACSHA256.constantTimeEquals(challenge.proof, expected) else { return fail(.authenticationFailed) }
        state = .awaitingWelcome(peer: PeerIdentity(nodeID: challenge.nodeID, role: challenge.role))
        let proof = Self.proof(label: "connect", secret: configuration.secret, connecting: ownHello,
                               acceptingID: challenge.nodeID, acceptingRole: challenge.role,
                               acceptingNonce: challenge.nonce)
        return [.send(.authenticate(proof: proof))]
    }

    private mutating func fail(_ error: WireError) -> [Action] {
        state = .failed
        return [.fail(error)]
    }

    /// HMAC-SHA256(secret, "switchboard/1 " + label + 0x00 + transcript).
    static func proof(
        label: String, secret: [UInt8], connecting hello: WireMessage.Hello,
        acceptingID: String, acceptingRole: NodeRole, acceptingNonce: [UInt8]
    ) -> [UInt8] {
        var transcript = ByteWriter()
        transcript.writeRaw(Array("switchboard/1 \(label)".utf8))
        transcript.writeUInt8(0)
        transcript.writeRaw(hello.nonce)
        transcript.writeRaw(acceptingNonce)
        transcript.writeString(hello.clusterName)
        transcript.writeString(hello.nodeID)
        transcript.writeUInt8(hello.role.rawValue)
        transcript.writeString(acceptingID)
        transcript.writeUInt8(acceptingRole.rawValue)
        return HMACSHA256.authenticate(message: transcript.bytes, key: secret)
    }
}
