import Wire

/// Seeded random messages of every type, with awkward strings and bodies of all sizes
/// (some large and compressible, so LZ4 is exercised).
enum RandomMessages {
    static func make(using rng: inout SplitMix64) -> WireMessage {
        let type = MessageType.allCases.randomElement(using: &rng)!
        switch type {
        case .membership, .presence, .control:
            return make(using: &rng)  // a UDP datagram of its own format, not a WireMessage
        case .hello:
            return .hello(.init(protocolVersion: rng.next() >> Int.random(in: 0...63, using: &rng), nodeID: string(&rng),
                                role: NodeRole.allCases.randomElement(using: &rng)!, clusterName: string(&rng), nonce: nonce(&rng)))
        case .challenge:
            return .challenge(.init(nodeID: string(&rng), role: NodeRole.allCases.randomElement(using: &rng)!,
                                    nonce: nonce(&rng), proof: nonce(&rng)))
        case .authenticate: return .authenticate(proof: nonce(&rng))
        case .welcome: return .welcome
        case .error: return .error(code: UInt16.random(in: 0...UInt16.max, using: &rng), message: string(&rng))
        case .ping: return .ping(token: rng.next())
        case .pong: return .pong(token: rng.next())
        case .redirect: return .redirect(partition: UInt32.random(in: 0...UInt32.max, using: &rng), nodeID: string(&rng), address: string(&rng))
        case .conversationEvent: return .conversationEvent(conversationID: string(&rng), sequence: rng.next() >> 3, body: body(&rng))
        case .subscribe: return .subscribe(conversationID: string(&rng), afterSequence: rng.next())
        case .unsubscribe: return .unsubscribe(conversationID: string(&rng))
        case .ack: return .ack(conversationID: string(&rng), sequence: UInt64.random(in: 0...1000, using: &rng))
        case .sessionClosed: return .sessionClosed(sessionID: UInt64.random(in: 0...UInt64.max, using: &rng))
        case .command:
            return .command(sessionID: rng.next(), principal: Principal(site: string(&rng), role: .visitor, id: string(&rng), attributes: ["k": string(&rng)]),
                            command: TypedSamples.commands.randomElement(using: &rng)!.command)
        case .commandReply: return .commandReply(TypedSamples.replies.randomElement(using: &rng)!.reply)
        case .conversationUpdate:
            return .conversationUpdate(conversationID: string(&rng), sequence: rng.next() >> 3, event: TypedSamples.events.randomElement(using: &rng)!.event)
        case .operatorUpdate: return .operatorUpdate(operatorID: string(&rng), event: TypedSamples.events.randomElement(using: &rng)!.event)
        case .sessionUpdate: return .sessionUpdate(sessionID: rng.next(), event: TypedSamples.events.randomElement(using: &rng)!.event)
        case .routing: return .routing(body: body(&rng))
        case .partitionTable:
            let routers = (0..<Int.random(in: 0...5, using: &rng)).map { _ in PartitionTableNotice.Router(node: string(&rng), address: string(&rng)) }
            let partitions = (0..<Int.random(in: 1...70, using: &rng)).map { _ in
                PartitionTableNotice.Entry(owner: routers.isEmpty || Bool.random(using: &rng) ? nil : Int.random(in: 0..<routers.count, using: &rng),
                                           epoch: rng.next() >> Int.random(in: 0...63, using: &rng))
            }
            return .partitionTable(PartitionTableNotice(version: rng.next() >> 8, routers: routers, partitions: partitions))
        }
    }

    static func nonce(_ rng: inout SplitMix64) -> [UInt8] {
        (0..<WireMessage.nonceSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func string(_ rng: inout SplitMix64) -> String {
        let alphabet: [Character] = ["a", "Z", "0", "-", "é", "ß", "世", "👋", " ", "\u{0}"]
        let length = Int.random(in: 0...40, using: &rng)
        return String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func body(_ rng: inout SplitMix64) -> [UInt8] {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return []
        case 1...6: return (0..<Int.random(in: 1...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 7, 8:
            // Chat-like, compressible text over the compression threshold.
            let words = ["hello", "order", "#4711", "shipping", "refund", "thanks", "the", "parcel"]
            var text = ""
            while text.utf8.count < Int.random(in: 600...6000, using: &rng) {
                text += words.randomElement(using: &rng)! + " "
            }
            return Array(text.utf8)
        default:
            // Large incompressible bytes: LZ4 is tried and must be skipped.
            return (0..<Int.random(in: 512...3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
    }
}
