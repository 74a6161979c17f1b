@testable import Router
import Testing
import Wire

@Suite struct RoutingMessageCodecTests {
    static let lane = LaneKey(site: "shop", skill: "sales", level: 2)
    static let rank = QueueRank(virtualTime: -1_764_600_000_000_000_000, serial: 7)

    /// Every case at least once, optionals both nil and not.
    static let samples: [RoutingMessage] = [
        .reserve("c-1", operator: "shop/anna"),
        .notice("shop/anna", .accepted("c-1")),
        .notice("shop/anna", .missed("c-2")),
        .notice("shop/anna", .released("c-3")),
        .pullAnswer("shop/anna", partition: 5, offered: "c-1", best: rank),
        .pullAnswer("shop/anna", partition: 0, offered: nil, best: nil),
        .adopt("shop/anna", "c-4"),
        .granted("c-1", "shop/anna"),
        .denied("c-1", "shop/bo"),
        .pull(partition: 31, "shop/anna", bound: .front(serial: 3)),
        .pull(partition: 31, "shop/anna", bound: nil),
        .operatorLost("c-5", "shop/anna"),
        .queueHeads(partition: 2, [.init(lane: lane, rank: rank),
                                   .init(lane: LaneKey(site: "shop", skill: "billing", level: 5), rank: nil),
                                   .init(lane: LaneKey(site: "", skill: "", level: 1), rank: QueueRank(virtualTime: .max, serial: .max))],
                    complete: true),
        .queueHeads(partition: 1_000_000, [], complete: false),
        .availability(OperatorSummaryCodecTests.sample),
        .unclaimed(partition: 9, lane),
        .resync,
        .queueRanks(partition: 4, SiteSkill(site: "shop", skill: "sales"), [rank, .front(serial: 0), QueueRank(virtualTime: .max, serial: 1)]),
        .queueRanks(partition: 4, SiteSkill(site: "shop", skill: "sales"), []),
    ]

    /// A distinct stamp per sample, small and large epochs alike.
    static func stamp(_ index: Int) -> RoutingStamp {
        RoutingStamp(sourceEpoch: UInt64(index) * 1_000_003, targetEpoch: index.isMultiple(of: 2) ? UInt64.max - UInt64(index) : UInt64(index))
    }

    static func roundTrip(_ message: RoutingMessage, _ stamp: RoutingStamp) throws {
        let (decoded, decodedStamp) = try RoutingMessageCodec.decode(RoutingMessageCodec.encode(message, stamp: stamp))
        #expect(decoded == message)
        #expect(decodedStamp == stamp)
    }

    @Test func everyKind_roundTripsWithItsStamp() throws {
        let kinds = Set(Self.samples.map { Self.bytes($0)[3] })
        #expect(kinds == Set(1...13))
        for (index, message) in Self.samples.enumerated() {
            try Self.roundTrip(message, Self.stamp(index))
        }
    }

    @Test func everyCutOrPaddedMessage_isRefused() {
        for (index, message) in Self.samples.enumerated() {
            let bytes = RoutingMessageCodec.encode(message, stamp: Self.stamp(index))
            for cut in 0..<bytes.count {
                #expect(throws: WireError.self) { try RoutingMessageCodec.decode(Array(bytes.prefix(cut))) }
            }
            #expect(throws: WireError.self) { try RoutingMessageCodec.decode(bytes + [0]) }
        }
    }

    /// Stamp (0, 0) puts the kind at byte 3.
    static func bytes(_ message: RoutingMessage) -> [UInt8] {
        RoutingMessageCodec.encode(message, stamp: RoutingStamp(sourceEpoch: 0, targetEpoch: 0))
    }

    @Test func anUnknownKindOrVersion_isRefused() {
        for kind: UInt8 in [0, 14, 255] {
            var unknown = Self.bytes(.resync)
            unknown[3] = kind
            #expect(throws: WireError.invalidField("routing message kind \(kind)")) { try RoutingMessageCodec.decode(unknown) }
        }
        for version: UInt8 in [0, 2] {
            var wrong = Self.bytes(.resync)
            wrong[0] = version
            #expect(throws: WireError.invalidField("routing message version")) { try RoutingMessageCodec.decode(wrong) }
        }
    }

    @Test func aFlagOtherThanZeroOrOne_isRefused() {
        // Each of these ends in a flag byte.
        let endingInFlag: [RoutingMessage] = [
            .pull(partition: 1, "shop/anna", bound: nil),
            .pullAnswer("shop/anna", partition: 1, offered: "c-1", best: nil),
            .queueHeads(partition: 1, [.init(lane: Self.lane, rank: nil)], complete: true),
        ]
        for message in endingInFlag {
            var bytes = Self.bytes(message)
            bytes[bytes.count - 1] = 2
            #expect(throws: WireError.self) { try RoutingMessageCodec.decode(bytes) }
        }
        var offered = Self.bytes(.pullAnswer("shop/anna", partition: 1, offered: nil, best: nil))
        offered[offered.count - 2] = 2
        #expect(throws: WireError.invalidField("offered")) { try RoutingMessageCodec.decode(offered) }
        var notice = Self.bytes(.notice("op", .released("c")))
        notice[7] = 3
        #expect(throws: WireError.invalidField("home notice 3")) { try RoutingMessageCodec.decode(notice) }
    }

    @Test func aLaneLevelOutsideOneToFive_isRefused() {
        for level in [0, 6, 255] {
            let bytes = Self.bytes(.unclaimed(partition: 1, LaneKey(site: "shop", skill: "sales", level: level)))
            #expect(throws: WireError.invalidField("lane level \(level)")) { try RoutingMessageCodec.decode(bytes) }
        }
    }

    @Test func aPartitionPastAMillion_isRefused() {
        let bytes = Self.bytes(.unclaimed(partition: 1_000_001, Self.lane))
        #expect(throws: WireError.invalidField("partition 1000001")) { try RoutingMessageCodec.decode(bytes) }
    }

    @Test func aHeadCountPastTheBytesLeft_isRefusedBeforeReadingHeads() {
        var w = ByteWriter()
        w.writeUInt8(1)
        w.writeVarint(0)
        w.writeVarint(0)
        w.writeUInt8(9)
        w.writeVarint(4)
        w.writeVarint(1 << 40)
        w.writeRaw([UInt8](repeating: 0, count: 16))
        // Refused by the bound (not by running out of bytes mid-loop), so nothing was sized by it.
        #expect(throws: WireError.invalidField("lane head count \(1 << 40)")) { try RoutingMessageCodec.decode(w.bytes) }
    }

    @Test func availability_carriesExactlyTheSummaryBytes() {
        var bytes = Self.bytes(.availability(OperatorSummaryCodecTests.sample))
        // Lengthen the summary by one byte taken from nothing: the summary codec sees a trailing byte.
        bytes[4] += 1
        bytes.append(0)
        #expect(throws: WireError.trailingBytes(1)) { try RoutingMessageCodec.decode(bytes) }
    }

    // MARK: random messages

    @Test func randomMessagesOfEveryKind_roundTrip() throws {
        var rng = SplitMix64(seed: 0x5EED_C0DEC)
        for round in 0..<(13 * 250) {
            let message = Self.randomMessage(kind: round % 13 + 1, &rng)
            try Self.roundTrip(message, RoutingStamp(sourceEpoch: Self.randomUInt64(&rng), targetEpoch: Self.randomUInt64(&rng)))
        }
    }

    static func randomMessage(kind: Int, _ rng: inout SplitMix64) -> RoutingMessage {
        let id = ConversationID(randomString(&rng)), op = OperatorID(randomString(&rng))
        let partition = Int.random(in: 0...1_000_000, using: &rng)
        switch kind {
        case 1: return .reserve(id, operator: op)
        case 2: return .notice(op, [Partition.HomeNotice.accepted(id), .missed(id), .released(id)].randomElement(using: &rng)!)
        case 3: return .pullAnswer(op, partition: partition, offered: Bool.random(using: &rng) ? id : nil, best: randomRank(&rng))
        case 4: return .adopt(op, id)
        case 5: return .granted(id, op)
        case 6: return .denied(id, op)
        case 7: return .pull(partition: partition, op, bound: randomRank(&rng))
        case 8: return .operatorLost(id, op)
        case 9:
            let heads = (0..<Int.random(in: 0...6, using: &rng)).map { _ in RoutingMessage.LaneHead(lane: randomLane(&rng), rank: randomRank(&rng)) }
            return .queueHeads(partition: partition, heads, complete: Bool.random(using: &rng))
        case 10: return .availability(randomSummary(op, &rng))
        case 11: return .unclaimed(partition: partition, randomLane(&rng))
        case 13:
            let ranks = (0..<Int.random(in: 0...40, using: &rng)).compactMap { _ in randomRank(&rng) }
            return .queueRanks(partition: partition, SiteSkill(site: SiteID(randomString(&rng)), skill: Skill(randomString(&rng))), ranks)
        default: return .resync
        }
    }

    /// Small and huge values alike, so every varint length is exercised.
    static func randomUInt64(_ rng: inout SplitMix64) -> UInt64 {
        rng.next() >> UInt64.random(in: 0...63, using: &rng)
    }

    static func randomString(_ rng: inout SplitMix64) -> String {
        let alphabet = Array("ab-/0_Zé日😀")
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func randomLane(_ rng: inout SplitMix64) -> LaneKey {
        LaneKey(site: SiteID(randomString(&rng)), skill: Skill(randomString(&rng)), level: Int.random(in: 1...5, using: &rng))
    }

    static func randomRank(_ rng: inout SplitMix64) -> QueueRank? {
        switch Int.random(in: 0...3, using: &rng) {
        case 0: return nil
        case 1: return .front(serial: randomUInt64(&rng))
        default:
            // `~` flips the sign without overflowing, so both signs of every magnitude occur.
            let time = Int64(bitPattern: randomUInt64(&rng))
            return QueueRank(virtualTime: Bool.random(using: &rng) ? time : ~time, serial: randomUInt64(&rng))
        }
    }

    static func randomSummary(_ op: OperatorID, _ rng: inout SplitMix64) -> OperatorSummary {
        var skills: [Skill: Int] = [:]
        for _ in 0..<Int.random(in: 0...3, using: &rng) { skills[Skill(randomString(&rng))] = Int.random(in: 1...5, using: &rng) }
        let profile = OperatorProfile(id: op, site: SiteID(randomString(&rng)), displayName: randomString(&rng), skills: skills,
                                      maxChats: Int.random(in: 1...20, using: &rng))
        var summary = OperatorSummary(profile: profile, available: Bool.random(using: &rng), online: Bool.random(using: &rng),
                                      load: Int.random(in: 0...20, using: &rng), idleSince: randomUInt64(&rng))
        (summary.epoch, summary.version) = (randomUInt64(&rng), randomUInt64(&rng))
        summary.status = [OperatorStatus.online, .away, .offline].randomElement(using: &rng)!
        summary.consoles = Int.random(in: 0...4, using: &rng)
        return summary
    }
}
