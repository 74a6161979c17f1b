import Foundation
import Presence
import Testing
import Wire

/// Presence gossip over an in-memory network: a seeded event queue, loss by coin flip,
/// a millisecond of delay. No clock, no sockets.
struct PresenceNet {
    struct Event {
        var at: UInt64
        var order: Int
        var node: Int
        var kind: Kind
    }

    enum Kind {
        case timer(PresenceGossip.Timer)
        case message(PresenceMessage, from: MemberID)
    }

    var nodes: [PresenceGossip]
    var events: [Event] = []
    var now: UInt64 = 0
    var loss: Double
    /// Nodes whose datagrams, in and out, are all lost.
    var cutOff: Set<Int> = []
    var random = SplitMix64(seed: 11)
    var learned: [[PresenceEntry]]
    var forgotten: [[PresenceEntry]]
    var datagramsSent = 0
    private var order = 0

    init(count: Int, loss: Double, settings: SWIMSettings = .lan) {
        nodes = (0..<count).map { PresenceGossip(me: MemberID(node: "r\($0)", generation: 1), settings: settings, seed: UInt64($0) + 1) }
        learned = Array(repeating: [], count: count)
        forgotten = Array(repeating: [], count: count)
        self.loss = loss
        for index in nodes.indices {
            for other in nodes.indices where other != index {
                _ = nodes[index].onMemberChanged(nodes[other].me, status: .alive, address: "\(other)")
            }
            carryOut(nodes[index].start(now: 0), at: index)
        }
    }

    mutating func run(until end: UInt64) {
        while let next = events.indices.min(by: { (events[$0].at, events[$0].order) < (events[$1].at, events[$1].order) }), events[next].at <= end {
            let event = events.remove(at: next)
            now = event.at
            switch event.kind {
            case .timer(let timer): carryOut(nodes[event.node].onTimer(timer, now: now), at: event.node)
            case .message(let message, let from):
                carryOut(nodes[event.node].onMessage(message, from: from, address: from.node.dropFirst().description, now: now), at: event.node)
            }
        }
        now = end
    }

    mutating func carryOut(_ directives: [PresenceGossip.Directive], at index: Int) {
        for directive in directives {
            switch directive {
            case .schedule(let timer, let at): push(Event(at: at, order: 0, node: index, kind: .timer(timer)))
            case .send(let message, _, let address):
                datagramsSent += 1
                let to = Int(address)!
                let lost = cutOff.contains(index) || cutOff.contains(to) || Double(random.next() % 10_000) / 10_000 < loss
                if !lost { push(Event(at: now + 1_000_000, order: 0, node: to, kind: .message(message, from: nodes[index].me))) }
            case .learned(let entry): learned[index].append(entry)
            case .forgotten(let entries): forgotten[index] += entries
            }
        }
    }

    mutating func push(_ event: Event) {
        order += 1
        var event = event
        event.order = order
        events.append(event)
    }

    /// How many nodes hold `origin`'s entry for `key` at `version`.
    func holding(origin: Int, key: String, version: UInt64) -> Int {
        nodes.filter { $0.table[nodes[origin].me]?[key]?.version == version }.count
    }
}

@Suite struct PresenceGossipTests {
    static let period = SWIMSettings.lan.gossipInterval

    @Test func aPublishedValue_reachesEveryMember_inAboutLogNPeriods_despiteLoss() {
        var net = PresenceNet(count: 64, loss: 0.05)
        let published = net.nodes[3].publish(key: "op-ana", value: [1, 2, 3])
        #expect(published)
        var periods = 0
        while net.holding(origin: 3, key: "op-ana", version: 1) < 64, periods < 40 {
            periods += 1
            net.run(until: UInt64(periods) * Self.period + 2_000_000)
        }
        #expect(net.holding(origin: 3, key: "op-ana", version: 1) == 64)
        // Rumours alone (the first digest swap is ten seconds away): log2(64) = 6, with room for loss.
        #expect(periods <= 12, "took \(periods) gossip periods")
        #expect(net.learned.enumerated().allSatisfy { index, entries in index == 3 || entries.map(\.value) == [[1, 2, 3]] })
    }

    @Test func aNewerValue_replacesTheOlder_andAnOldOneArrivingLateChangesNothing() {
        var gossip = PresenceGossip(me: MemberID(node: "a", generation: 1), settings: .lan, seed: 1)
        let b = MemberID(node: "b", generation: 1)
        let newer = PresenceEntry(origin: b, key: "op", version: 5, value: [5])
        let older = PresenceEntry(origin: b, key: "op", version: 4, value: [4])
        #expect(gossip.onMessage(.entries([newer], rumour: true), from: b, address: "b", now: 0) == [.learned(newer)])
        #expect(gossip.onMessage(.entries([older, newer], rumour: true), from: b, address: "b", now: 0).isEmpty)
        #expect(gossip.table[b]?["op"] == newer)
        // Nobody else writes a member's own entries: an echo of "a"'s is ignored.
        gossip.publish(key: "mine", value: [1])
        let forged = PresenceEntry(origin: gossip.me, key: "mine", version: 99, value: [9])
        #expect(gossip.onMessage(.entries([forged], rumour: true), from: b, address: "b", now: 0).isEmpty)
        #expect(gossip.table[gossip.me]?["mine"]?.value == [1])
    }

    @Test func publishingTheSameValueAgain_isNoNews_andAnOversizedValueIsRefused() {
        var gossip = PresenceGossip(me: MemberID(node: "a", generation: 1), settings: .lan, seed: 1)
        gossip.publish(key: "op", value: [1])
        gossip.publish(key: "op", value: [1])
        #expect(gossip.table[gossip.me]?["op"]?.version == 1)
        let oversized = gossip.publish(key: "op", value: [UInt8](repeating: 0, count: PresenceGossip.maxValueBytes + 1))
        #expect(!oversized)
        #expect(gossip.table[gossip.me]?["op"]?.value == [1])
    }

    @Test func aGoneMember_isForgotten_andItsLateRumoursAreRefused() {
        var gossip = PresenceGossip(me: MemberID(node: "a", generation: 1), settings: .lan, seed: 1)
        let b = MemberID(node: "b", generation: 1)
        _ = gossip.onMemberChanged(b, status: .alive, address: "b")
        let entry = PresenceEntry(origin: b, key: "op", version: 1, value: [1])
        _ = gossip.onMessage(.entries([entry], rumour: true), from: b, address: "b", now: 0)
        #expect(gossip.onMemberChanged(b, status: .dead, address: "b") == [.forgotten([entry])])
        #expect(gossip.peers[b] == nil && gossip.table[b] == nil)
        let late = PresenceEntry(origin: b, key: "op", version: 2, value: [2])
        #expect(gossip.onMessage(.entries([late], rumour: true), from: MemberID(node: "c", generation: 1), address: "c", now: 0).isEmpty)
        // Its next generation is a new member, heard as usual.
        let reborn = PresenceEntry(origin: MemberID(node: "b", generation: 2), key: "op", version: 1, value: [3])
        #expect(gossip.onMessage(.entries([reborn], rumour: true), from: reborn.origin, address: "b", now: 0) == [.learned(reborn)])
    }

    @Test func aMemberThatMissedEveryRumour_catchesUpByDigests() {
        var net = PresenceNet(count: 8, loss: 0.0)
        net.cutOff = [7]
        for index in 0..<4 { net.nodes[index].publish(key: "op-\(index)", value: [UInt8(index)]) }
        // Long enough for every rumour to run out of retransmits.
        net.run(until: 5 * 1_000_000_000)
        #expect(net.nodes[7].table.isEmpty)
        net.cutOff = []
        // Each member swaps digests every ten seconds with one other: within a few rounds 7
        // (and anyone else a rumour happened to miss) is asked or asks.
        net.run(until: 65 * 1_000_000_000)
        #expect((0..<4).allSatisfy { net.holding(origin: $0, key: "op-\($0)", version: 1) == 8 })
    }

    @Test func inALargerCluster_theDigestGoesInParts_thatEachFitADatagram() throws {
        var net = PresenceNet(count: 60, loss: 0)  // 60 origins: a digest of about 2,400 bytes, in three parts
        net.cutOff = [59]
        for index in 0..<58 { net.nodes[index].publish(key: "op-\(index)", value: [UInt8(index % 250)]) }
        net.run(until: 5 * 1_000_000_000)
        #expect(net.nodes[59].table.isEmpty)
        let parts = net.nodes[0].onTimer(.sync, now: net.now).compactMap { directive -> PresenceMessage? in
            if case .send(let message, _, _) = directive { message } else { nil }
        }
        #expect(parts.count >= 2)
        for message in parts {
            #expect(PresenceDatagram.encode(message, from: net.nodes[0].me, counter: 1, secret: [1]) != nil, "a part fits one datagram")
        }
        net.cutOff = []
        net.run(until: 65 * 1_000_000_000)
        #expect((0..<58).allSatisfy { net.holding(origin: $0, key: "op-\($0)", version: 1) == 60 }, "the member that missed everything caught up")
    }

    @Test func twoMembersInSync_swapOnlyDigests() {
        var a = PresenceGossip(me: MemberID(node: "a", generation: 1), settings: .lan, seed: 1)
        var b = PresenceGossip(me: MemberID(node: "b", generation: 1), settings: .lan, seed: 2)
        _ = a.onMemberChanged(b.me, status: .alive, address: "b")
        a.publish(key: "op", value: [1])
        _ = b.onMessage(.entries(a.table[a.me]!.values.map { $0 }, rumour: false), from: a.me, address: "a", now: 0)
        let digest = a.onTimer(.sync, now: 0).compactMap { directive -> PresenceMessage? in
            if case .send(let message, _, _) = directive { return message } else { return nil }
        }
        #expect(digest.count == 1)
        #expect(b.onMessage(digest[0], from: a.me, address: "a", now: 0).isEmpty)
    }

    @Test func rumoursAndAnswers_fitADatagram() throws {
        var net = PresenceNet(count: 2, loss: 0)
        let secret = Array("s".utf8)
        for index in 0..<30 { net.nodes[0].publish(key: "operator-\(index)", value: [UInt8](repeating: 7, count: PresenceGossip.maxValueBytes)) }
        for directive in net.nodes[0].onTimer(.gossip, now: 0) + net.nodes[0].onMessage(.digest([], reply: false), from: net.nodes[1].me, address: "1", now: 0) {
            guard case .send(let message, _, _) = directive else { continue }
            let bytes = try #require(PresenceDatagram.encode(message, from: net.nodes[0].me, counter: 1, secret: secret))
            #expect(bytes.count <= MembershipDatagram.maxBytes)
            let (type, payload) = try MembershipDatagram.open(bytes, secret: secret).get()
            #expect(type == PresenceDatagram.messageType)
            let decoded = try PresenceDatagram.decode(payload: payload).get()
            #expect(decoded.message == message && decoded.from == net.nodes[0].me && decoded.counter == 1)
        }
    }

    @Test func aMalformedPresencePayload_isRefused() throws {
        let digest = PresenceMessage.digest([OriginDigest(origin: MemberID(node: "a", generation: 2), count: 3, checksum: 0xdead_beef_0bad_f00d)], reply: true)
        let bytes = try #require(PresenceDatagram.encode(digest, from: MemberID(node: "b", generation: 1), counter: 4, secret: [1]))
        let payload = try MembershipDatagram.open(bytes, secret: [1]).get().payload
        #expect(try PresenceDatagram.decode(payload: payload).get().message == digest)
        for cut in 0..<payload.count {
            #expect(PresenceDatagram.decode(payload: Array(payload.prefix(cut))).failure != nil, "cut at \(cut)")
        }
        #expect(PresenceDatagram.decode(payload: payload + [0]).failure != nil)
        var lying = payload
        lying[7] = 0x7f  // the item count (after version, sender "b" #1, counter, kind and flag)
        #expect(PresenceDatagram.decode(payload: lying).failure != nil)
    }
}
