/// Every message type on the wire.
///
/// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol (docs/wire.md).
public enum MessageType: UInt16, CaseIterable, Sendable {
    /// Handshake step 1, connecting side: who I am and a fresh nonce.
    case hello = 1
    /// Handshake step 2, accepting side: who I am, my nonce, proof that I know the secret.
    case challenge = 2
    /// Handshake step 3, connecting side: proof that I know the secret.
    case authenticate = 3
    /// Handshake step 4, accepting side: the connection is open for traffic.
    case welcome = 4
    /// An error with a stable code; the sender closes the connection after a fatal one.
    case error = 5
    /// Liveness check; answered with `pong` carrying the same token.
    case ping = 6
    /// Answer to `ping`.
    case pong = 7
    /// The receiver is not the owner; go to the named node instead.
    case redirect = 8
    // 9 (clientCommand: a client's JSON command) is retired: never reuse it.
    /// An opaque payload under a conversation id and sequence number: the frame the
    /// transport benchmarks and tests send (routers send events as `conversationUpdate`).
    case conversationEvent = 10
    /// Start receiving a conversation's events from a sequence number on.
    case subscribe = 11
    /// Stop receiving a conversation's events.
    case unsubscribe = 12
    /// A command was applied durably; carries the sequence number it was given.
    case ack = 13
    // 14 (reply: a JSON answer) is retired: never reuse it.
    // 15 (operatorEvent: a JSON notice) is retired: never reuse it.
    /// A gateway session ended (the browser went away).
    case sessionClosed = 16
    // 17 (sessionEvent: a JSON notice) is retired: never reuse it.
    /// A client's command as a typed value, with the session and principal it came from
    /// (gateway to router).
    case command = 18
    /// The router's typed answer to the `command` with the same correlation id.
    case commandReply = 19
    /// A typed event of a conversation, with its sequence number (0: not stored).
    case conversationUpdate = 20
    /// A typed event for an operator's sessions.
    case operatorUpdate = 21
    /// A typed event for one gateway session.
    case sessionUpdate = 22
    /// A membership datagram (SWIM over UDP, `Presence.MembershipDatagram`): its own payload
    /// and an HMAC tag after the frame. Never sent on a TCP link; refused there.
    case membership = 23
    /// A presence gossip datagram (operator summaries over UDP, `Presence.PresenceDatagram`),
    /// sealed like a membership datagram. UDP only too.
    case presence = 24
    /// A control-plane message (Raft between routers, `Presence.ControlDatagram`), sealed
    /// like a membership datagram; over UDP, or alone on a TCP connection when too large.
    case control = 25
    /// A message between routers about partitions and operator homes, with the epochs its
    /// sender holds (`Router.RoutingMessageCodec` bytes). Router to router only.
    case routing = 26
    /// The committed partition table, pushed by a router to its gateways on connect and on
    /// every change (`PartitionTableNotice`).
    case partitionTable = 27

    /// Whether it travels only sealed (UDP datagrams, or one frame on its own TCP
    /// connection to the gossip port), never on a Wire link.
    public var isDatagramOnly: Bool { self == .membership || self == .presence || self == .control }
}

/// The kind of node at the other end of a connection.
///
/// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol.
public enum NodeRole: UInt8, Sendable, CaseIterable {
    /// A router node: owns partitions, queues and operator homes.
    case router = 1
    /// A stateless gateway terminating browser connections.
    case gateway = 2
    /// The load generator or another tool.
    case tool = 3
}
