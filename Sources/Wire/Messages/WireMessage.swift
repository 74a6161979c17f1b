/// A decoded message: one case per `MessageType`, with its fields.
/// The payload layouts are specified in docs/wire.md and frozen by golden vectors.
public enum WireMessage: Equatable, Sendable {
    /// Handshake step 1.
    case hello(Hello)
    /// Handshake step 2.
    case challenge(Challenge)
    /// Handshake step 3: HMAC proof of the connecting side.
    case authenticate(proof: [UInt8])
    /// Handshake step 4.
    case welcome
    /// An error with a stable code (see `WireError.code`).
    case error(code: UInt16, message: String)
    /// Liveness check.
    case ping(token: UInt64)
    /// Answer to `ping` with the same token.
    case pong(token: UInt64)
    /// Go to `nodeID` at `address` ("host:port"), owner of `partition`.
    case redirect(partition: UInt32, nodeID: String, address: String)
    /// An opaque payload under a conversation id and sequence (the transport benchmarks' frame).
    case conversationEvent(conversationID: String, sequence: UInt64, body: [UInt8])
    /// Deliver the conversation's events with sequence numbers greater than `afterSequence`.
    case subscribe(conversationID: String, afterSequence: UInt64)
    /// Stop delivering the conversation's events.
    case unsubscribe(conversationID: String)
    /// The command with this frame's correlation id is durable as `sequence`.
    case ack(conversationID: String, sequence: UInt64)
    /// Session `sessionID` of the sending gateway ended.
    case sessionClosed(sessionID: UInt64)

    /// A client's command for session `sessionID` (0: a REST request) of the sending
    /// gateway, on behalf of `principal` (from the token the gateway verified).
    case command(sessionID: UInt64, principal: Principal, command: ClientCommand)
    /// The answer to the `command` with this frame's correlation id.
    case commandReply(RouterReply)
    /// An event of a conversation for the gateways watching it.
    case conversationUpdate(conversationID: String, sequence: UInt64, event: ServerEvent)
    /// An event for operator `operatorID`'s sessions.
    case operatorUpdate(operatorID: String, event: ServerEvent)
    /// An event for session `sessionID` of the receiving gateway.
    case sessionUpdate(sessionID: UInt64, event: ServerEvent)
    /// Router to router: a routing message in `Router.RoutingMessageCodec` bytes.
    case routing(body: [UInt8])
    /// Router to gateway: the committed partition table.
    case partitionTable(PartitionTableNotice)

    /// Fields of `hello`.
    public struct Hello: Equatable, Sendable {
        /// Highest protocol version the sender speaks.
        public var protocolVersion: UInt64
        /// The sender's node id, unique in the cluster.
        public var nodeID: String
        /// What kind of node the sender is.
        public var role: NodeRole
        /// The cluster the sender belongs to.
        public var clusterName: String
        /// 32 fresh random bytes.
        public var nonce: [UInt8]

        /// Fields of a hello.
        public init(protocolVersion: UInt64, nodeID: String, role: NodeRole, clusterName: String, nonce: [UInt8]) {
            self.protocolVersion = protocolVersion
            self.nodeID = nodeID
            self.role = role
            self.clusterName = clusterName
            self.nonce = nonce
        }
    }

    /// Fields of `challenge`.
    public struct Challenge: Equatable, Sendable {
        /// The accepting node's id.
        public var nodeID: String
        /// What kind of node the accepting side is.
        public var role: NodeRole
        /// 32 fresh random bytes.
        public var nonce: [UInt8]
        /// HMAC-SHA256 proof of the accepting side over the handshake transcript.
        public var proof: [UInt8]

        /// Fields of a challenge.
        public init(nodeID: String, role: NodeRole, nonce: [UInt8], proof: [UInt8]) {
            self.nodeID = nodeID
            self.role = role
            self.nonce = nonce
            self.proof = proof
        }
    }

    /// Length of handshake nonces and proofs in bytes.
    public static let nonceSize = 32

    /// The message type of this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .challenge: .challenge
        case .authenticate: .authenticate
        case .welcome: .welcome
        case .error: .error
        case .ping: .ping
        case .pong: .pong
        case .redirect: .redirect
        case .conversationEvent: .conversationEvent
        case .subscribe: .subscribe
        case .unsubscribe: .unsubscribe
        case .ack: .ack
        case .sessionClosed: .sessionClosed
        case .command: .command
        case .commandReply: .commandReply
        case .conversationUpdate: .conversationUpdate
        case .operatorUpdate: .operatorUpdate
        case .sessionUpdate: .sessionUpdate
        case .routing: .routing
        case .partitionTable: .partitionTable
        }
    }

    /// Writes the payload (without the frame header).
    public func encodePayload(into writer: inout ByteWriter) {
        switch self {
        case .hello(let hello):
            writer.writeVarint(hello.protocolVersion)
            writer.writeString(hello.nodeID)
            writer.writeUInt8(hello.role.rawValue)
            writer.writeString(hello.clusterName)
            writer.writeBytes(hello.nonce)
        case .challenge(let challenge):
            writer.writeString(challenge.nodeID)
            writer.writeUInt8(challenge.role.rawValue)
            writer.writeBytes(challenge.nonce)
            writer.writeBytes(challenge.proof)
        case .authenticate(let proof):
            writer.writeBytes(proof)
        case .welcome:
            break
        case .error(let code, let message):
            writer.writeVarint(UInt64(code))
            writer.writeString(message)
        case .ping(let token), .pong(let token):
            writer.writeVarint(token)
        case .redirect(let partition, let nodeID, let address):
            writer.writeVarint(UInt64(partition))
            writer.writeString(nodeID)
            writer.writeString(address)
        case .conversationEvent(let conversationID, let sequence, let body):
            writer.writeString(conversationID)
            writer.writeVarint(sequence)
            writer.writeBytes(body)
        case .subscribe(let conversationID, let afterSequence):
            writer.writeString(conversationID)
            writer.writeVarint(afterSequence)
        case .unsubscribe(let conversationID):
            writer.writeString(conversationID)
        case .ack(let conversationID, let sequence):
            writer.writeString(conversationID)
            writer.writeVarint(sequence)
        case .sessionClosed(let sessionID):
            writer.writeVarint(sessionID)
        case .command(let sessionID, let principal, let command):
            writer.writeVarint(sessionID)
            principal.encode(into: &writer)
            command.encode(into: &writer)
        case .commandReply(let reply):
            reply.encode(into: &writer)
        case .conversationUpdate(let conversationID, let sequence, let event):
            writer.writeString(conversationID)
            writer.writeVarint(sequence)
            event.encode(into: &writer)
        case .operatorUpdate(let operatorID, let event):
            writer.writeString(operatorID)
            event.encode(into: &writer)
        case .sessionUpdate(let sessionID, let event):
            writer.writeVarint(sessionID)
            event.encode(into: &writer)
        case .routing(let body):
            writer.writeBytes(body)
        case .partitionTable(let table):
            table.encode(into: &writer)
        }
    }

    /// Decodes a payload of the given type. Every field is checked; bytes left over after
    /// the last field are an error, so each message has exactly one encoding.
    public static func decode(type rawType: UInt16, payload: UnsafeRawBufferPointer) throws(WireError) -> WireMessage {
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        var reader = ByteReader(payload)
        let message: WireMessage
        switch type {
        case .membership, .presence, .control:
            // UDP only (Presence reads it, tag first); a TCP peer that sends one is wrong.
            throw .unknownMessageType(rawType)
        case .hello:
            let version = try reader.readVarint()
            let nodeID = try reader.readString()
            let role = try readRole(&reader)
            let cluster = try reader.readString()
            let nonce = try readFixed(&reader, count: nonceSize, field: "hello.nonce")
            message = .hello(Hello(protocolVersion: version, nodeID: nodeID, role: role, clusterName: cluster, nonce: nonce))
        case .challenge:
            let nodeID = try reader.readString()
            let role = try readRole(&reader)
            let nonce = try readFixed(&reader, count: nonceSize, field: "challenge.nonce")
            let proof = try readFixed(&reader, count: nonceSize, field: "challenge.proof")
            message = .challenge(Challenge(nodeID: nodeID, role: role, nonce: nonce, proof: proof))
        case .authenticate:
            message = .authenticate(proof: try readFixed(&reader, count: nonceSize, field: "authenticate.proof"))
        case .welcome:
            message = .welcome
        case .error:
            let code = try reader.readVarint()
            guard code <= UInt64(UInt16.max) else { throw .invalidField("error.code") }
            message = .error(code: UInt16(code), message: try reader.readString())
        case .ping:
            message = .ping(token: try reader.readVarint())
        case .pong:
            message = .pong(token: try reader.readVarint())
        case .redirect:
            let partition = try reader.readVarint()
            guard partition <= UInt64(UInt32.max) else { throw .invalidField("redirect.partition") }
            message = .redirect(partition: UInt32(partition), nodeID: try reader.readString(), address: try reader.readString())
        case .conversationEvent:
            let conversation = try reader.readString()
            let sequence = try reader.readVarint()
            message = .conversationEvent(conversationID: conversation, sequence: sequence, body: try reader.readBytes())
        case .subscribe:
            let conversation = try reader.readString()
            message = .subscribe(conversationID: conversation, afterSequence: try reader.readVarint())
        case .unsubscribe:
            message = .unsubscribe(conversationID: try reader.readString())
        case .ack:
            let conversation = try reader.readString()
            message = .ack(conversationID: conversation, sequence: try reader.readVarint())
        case .sessionClosed:
            message = .sessionClosed(sessionID: try reader.readVarint())
        case .command:
            let sessionID = try reader.readVarint()
            let principal = try Principal.decode(from: &reader)
            message = .command(sessionID: sessionID, principal: principal, command: try ClientCommand.decode(from: &reader))
        case .commandReply:
            message = .commandReply(try RouterReply.decode(from: &reader))
        case .conversationUpdate:
            let conversation = try reader.readString()
            let sequence = try reader.readVarint()
            message = .conversationUpdate(conversationID: conversation, sequence: sequence, event: try ServerEvent.decode(from: &reader))
        case .operatorUpdate:
            let operatorID = try reader.readString()
            message = .operatorUpdate(operatorID: operatorID, event: try ServerEvent.decode(from: &reader))
        case .sessionUpdate:
            let sessionID = try reader.readVarint()
            message = .sessionUpdate(sessionID: sessionID, event: try ServerEvent.decode(from: &reader))
        case .routing:
            message = .routing(body: try reader.readBytes())
        case .partitionTable:
            message = .partitionTable(try PartitionTableNotice.decode(from: &reader))
        }
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
        return message
    }

    private static func readRole(_ reader: inout ByteReader) throws(WireError) -> NodeRole {
        guard let role = NodeRole(rawValue: try reader.readUInt8()) else { throw .invalidField("role") }
        return role
    }

    private static func readFixed(_ reader: inout ByteReader, count: Int, field: String) throws(WireError) -> [UInt8] {
        let bytes = try reader.readBytes()
        guard bytes.count == count else { throw .invalidField(field) }
        return bytes
    }
}
