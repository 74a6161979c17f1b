import Wire

/// One member's part in SWIM (Das, Gupta, Motivala 2002) with Lifeguard (Dadgar et al.
/// 2018), as a pure state machine: inputs are `start`, `onTimer`, `onMessage` and `leave`
/// with the current time, outputs are `Directive`s (send, schedule, a member changed). It
/// never reads a clock or touches a socket; randomness comes from the injected seed. The
/// shell (or the simulator) sends what it is told and calls back when timers are due.
///
/// Each protocol period a member probes one other, round-robin over a shuffled list; an
/// unanswered probe goes through `indirectChecks` others; still nothing by the end of the
/// period and the target is suspected; a suspicion that nobody refutes in time makes it
/// dead. Updates ride on every message, each a bounded number of times, and the whole table
/// is exchanged now and then with one random member.
public struct SWIMInstance: Sendable {
    public enum Directive: Sendable, Equatable {
        /// Send over UDP to a member.
        case send(SWIMEnvelope, to: MemberID, address: String)
        /// Send over TCP to an address (a join or an anti-entropy exchange).
        case pushPull(SWIMEnvelope, address: String)
        /// Call `onTimer` with this timer at this instant.
        case schedule(Timer, at: UInt64)
        /// What this member believes of another changed.
        case changed(MemberID, MemberStatus)
        /// This member itself began to suspect another (its probe went unanswered), as
        /// opposed to hearing the suspicion from others.
        case raisedSuspicion(MemberID)
        /// The others hold this member dead (it was unreachable for too long, or on the other
        /// side of a partition): nothing revives a dead generation, so the shell should join
        /// again as the next generation.
        case declaredDead
    }

    /// Timers. Stale ones are recognised and ignored, so none is ever cancelled.
    public enum Timer: Sendable, Hashable {
        /// The next protocol period.
        case probe
        /// A direct probe's wait ran out: probe indirectly.
        case probeTimeout(sequence: UInt64)
        /// The protocol period of a probe ended: suspect its target if nothing came back.
        case probeDeadline(sequence: UInt64)
        /// An indirect probe run for another member: nack if the target said nothing yet.
        case relayDeadline(sequence: UInt64)
        /// ... and stop waiting for it (a late ack is still forwarded until then).
        case relayExpired(sequence: UInt64)
        /// A suspicion may have run out.
        case suspicion(MemberID)
        case gossip
        case pushPull
    }

    /// What is believed of another member.
    public struct MemberState: Sendable, Equatable {
        public var address: String
        public var status: MemberStatus
        public var incarnation: UInt64
    }

    /// Counters for /metrics and the simulator.
    public struct Counters: Sendable, Equatable {
        public var probes = 0
        public var indirectProbes = 0
        public var nacksSent = 0
        public var suspicionsRaised = 0
        /// Suspicions of this member it refuted by raising its incarnation.
        public var refutations = 0
        public var deadDeclared = 0
    }

    private struct Probe: Sendable {
        var target: MemberID
        var acked = false
        /// Whether the probe went indirect (its direct wait ran out).
        var indirect = false
        var expectedNacks = 0
        /// The helpers that nacked (a duplicated datagram counts once).
        var nackers: Set<MemberID> = []
    }

    private struct Relay: Sendable {
        var origin: MemberID
        var originAddress: String
        var originSequence: UInt64
    }

    public let me: MemberID
    public let address: String
    public let settings: SWIMSettings
    /// This member's incarnation: raised only to refute a suspicion of itself.
    public private(set) var incarnation: UInt64 = 0
    /// Every other member ever heard of (gone ones stay, so an old rumour cannot revive them).
    public private(set) var members: [MemberID: MemberState] = [:]
    public private(set) var awareness: Awareness
    public private(set) var counters = Counters()
    /// Whether this member has left.
    public private(set) var hasLeft = false
    private var suspicions: [MemberID: Suspicion] = [:]
    private var broadcasts = BroadcastQueue<MemberID, MembershipUpdate>()
    private var probeOrder: [MemberID] = []
    private var probeIndex = 0
    private var lastSequence: UInt64 = 0
    private var probes: [UInt64: Probe] = [:]
    private var relays: [UInt64: Relay] = [:]
    private var rng: SplitMix64
    /// Where to join: asked again while this member knows nobody (a seed may start later),
    /// and every fourth anti-entropy exchange, so two sides of a healed partition that hold
    /// each other dead meet again.
    private var seeds: [String] = []
    private var pushPulls = 0

    /// A member that knows nobody yet.
    public init(me: MemberID, address: String, settings: SWIMSettings, seed: UInt64) {
        (self.me, self.address, self.settings) = (me, address, settings)
        awareness = Awareness(maximum: settings.lifeguard ? settings.awarenessMax : 1)
        rng = SplitMix64(seed: seed)
    }

    /// Members believed alive or suspect, this one included: the N of the formulas. Kept as a
    /// count (it is read for every message sent), changed only where a member is added or
    /// declared gone, since nothing gone comes back.
    public private(set) var liveCount = 1

    /// Whether `member` is believed alive or suspect.
    public func isLive(_ member: MemberID) -> Bool { members[member].map { !$0.status.isGone } ?? false }

    // MARK: inputs

    /// Starts: schedules the periods (the first probe at a random point of the first period,
    /// so members started together do not probe in step) and asks each seed for its table.
    public mutating func start(now: UInt64, seeds: [String]) -> [Directive] {
        var out: [Directive] = [
            .schedule(.probe, at: now + UInt64.random(in: 0..<settings.probeInterval, using: &rng)),
            .schedule(.gossip, at: now + settings.gossipInterval),
            .schedule(.pushPull, at: now + (seeds.isEmpty ? settings.pushPullInterval : settings.probeInterval)),
        ]
        self.seeds = seeds.filter { $0 != address }
        out += joinRequests()
        return out
    }

    /// Adds members known from elsewhere (a simulation starting with a formed cluster).
    public mutating func know(_ updates: [MembershipUpdate]) {
        for update in updates where update.member != me && members[update.member] == nil {
            add(update)
        }
    }

    /// A timer fired.
    public mutating func onTimer(_ timer: Timer, now: UInt64) -> [Directive] {
        guard !hasLeft else { return [] }
        var out: [Directive] = []
        switch timer {
        case .probe: probeNext(now: now, &out)
        case .probeTimeout(let sequence): probeIndirectly(sequence, &out)
        case .probeDeadline(let sequence): endProbe(sequence, now: now, &out)
        case .relayDeadline(let sequence):
            if let relay = relays[sequence], settings.lifeguard {
                counters.nacksSent += 1
                out.append(.send(envelope(.nack(sequence: relay.originSequence)), to: relay.origin, address: relay.originAddress))
            }
        case .relayExpired(let sequence):
            relays[sequence] = nil
        case .suspicion(let member): checkSuspicion(member, now: now, &out)
        case .gossip:
            out.append(.schedule(.gossip, at: now + settings.gossipInterval))
            guard broadcasts.count > 0 else { break }
            for target in randomLiveMembers(settings.gossipFanout, excluding: []) {
                let gossip = takeGossip()
                if gossip.isEmpty { break }
                out.append(.send(SWIMEnvelope(from: me, fromAddress: address, message: .gossip, gossip: gossip), to: target,
                                 address: members[target]!.address))
            }
        case .pushPull:
            // Alone (every seed still down, or the cluster gone): ask the seeds again soon.
            if liveCount == 1, !seeds.isEmpty {
                out.append(.schedule(.pushPull, at: now + settings.probeInterval))
                out += joinRequests()
                break
            }
            out.append(.schedule(.pushPull, at: now + settings.pushPullInterval))
            pushPulls += 1
            if pushPulls % 4 == 0, let seed = seeds.randomElement(using: &rng) {
                out.append(.pushPull(envelope(.pushPull(table: table, reply: false), gossip: []), address: seed))
            } else if let target = randomLiveMembers(1, excluding: []).first {
                out.append(.pushPull(envelope(.pushPull(table: table, reply: false), gossip: []), address: members[target]!.address))
            }
        }
        return out
    }

    /// A message arrived.
    public mutating func onMessage(_ envelope: SWIMEnvelope, now: UInt64) -> [Directive] {
        guard !hasLeft else { return [] }
        var out: [Directive] = []
        for update in envelope.gossip { apply(update, from: envelope.from, now: now, &out) }
        switch envelope.message {
        case .ping(let sequence, let target):
            // A ping for another generation of this node (it died, this one took its address) goes unanswered.
            guard target == me else { break }
            out.append(.send(self.envelope(.ack(sequence: sequence)), to: envelope.from, address: envelope.fromAddress))
        case .pingRequest(let sequence, let target, let targetAddress):
            let own = newSequence()
            relays[own] = Relay(origin: envelope.from, originAddress: envelope.fromAddress, originSequence: sequence)
            out.append(.send(self.envelope(.ping(sequence: own, target: target)), to: target, address: targetAddress))
            let timeout = awareness.scale(settings.probeTimeout)
            out.append(.schedule(.relayDeadline(sequence: own), at: now + UInt64(settings.nackFraction * Double(timeout))))
            out.append(.schedule(.relayExpired(sequence: own), at: now + timeout))
        case .ack(let sequence):
            if probes[sequence] != nil, !probes[sequence]!.acked {
                probes[sequence]!.acked = true
                // memberlist probeNode: a direct answer is a sign of health (-1); one that
                // came only through others says nothing either way.
                if !probes[sequence]!.indirect { awareness.apply(-1) }
            } else if let relay = relays.removeValue(forKey: sequence) {
                out.append(.send(self.envelope(.ack(sequence: relay.originSequence)), to: relay.origin, address: relay.originAddress))
            }
        case .nack(let sequence):
            probes[sequence]?.nackers.insert(envelope.from)
        case .gossip:
            break
        case .pushPull(let table, let isReply):
            for update in table { apply(update, from: envelope.from, now: now, &out) }
            if !isReply { out.append(.pushPull(self.envelope(.pushPull(table: self.table, reply: true), gossip: []), address: envelope.fromAddress)) }
        }
        return out
    }

    /// Leaves the cluster on purpose: tells a few members at once, and the rest hear it by
    /// gossip; after this the member answers nothing.
    public mutating func leave(now: UInt64) -> [Directive] {
        incarnation += 1
        let goodbye = MembershipUpdate(member: me, address: address, status: .left, incarnation: incarnation)
        let targets = randomLiveMembers(2 * settings.gossipFanout + 2, excluding: [])
        hasLeft = true
        return targets.map { .send(SWIMEnvelope(from: me, fromAddress: address, message: .gossip, gossip: [goodbye]), to: $0, address: members[$0]!.address) }
    }

    /// Everything known, this member included: what a push-pull sends.
    public var table: [MembershipUpdate] {
        [MembershipUpdate(member: me, address: address, status: hasLeft ? .left : .alive, incarnation: incarnation)]
            + members.sorted { $0.key < $1.key }.map { id, state in
                MembershipUpdate(member: id, address: state.address, status: state.status, incarnation: state.incarnation)
            }
    }

    // MARK: probing

    private mutating func probeNext(now: UInt64, _ out: inout [Directive]) {
        let period = awareness.scale(settings.probeInterval)
        out.append(.schedule(.probe, at: now + period))
        guard let target = nextTarget(), let state = members[target] else { return }
        let sequence = newSequence()
        probes[sequence] = Probe(target: target)
        counters.probes += 1
        out.append(.send(envelope(.ping(sequence: sequence, target: target)), to: target, address: state.address))
        out.append(.schedule(.probeTimeout(sequence: sequence), at: now + awareness.scale(settings.probeTimeout)))
        out.append(.schedule(.probeDeadline(sequence: sequence), at: now + period))
    }

    private mutating func probeIndirectly(_ sequence: UInt64, _ out: inout [Directive]) {
        guard let probe = probes[sequence], !probe.acked, let target = members[probe.target] else { return }
        let helpers = randomLiveMembers(settings.indirectChecks, excluding: [probe.target])
        probes[sequence]!.indirect = true
        probes[sequence]!.expectedNacks = settings.lifeguard ? helpers.count : 0
        for helper in helpers {
            counters.indirectProbes += 1
            out.append(.send(envelope(.pingRequest(sequence: sequence, target: probe.target, targetAddress: target.address)),
                             to: helper, address: members[helper]!.address))
        }
    }

    private mutating func endProbe(_ sequence: UInt64, now: UInt64, _ out: inout [Directive]) {
        guard let probe = probes.removeValue(forKey: sequence), !probe.acked else { return }
        // Lifeguard: nacks that did not come mean this member's own messages are not getting
        // through, so it slows down; with nobody to nack, any failed probe counts once.
        awareness.apply(probe.expectedNacks > 0 ? max(0, probe.expectedNacks - probe.nackers.count) : 1)
        guard let state = members[probe.target], !state.status.isGone else { return }
        if state.status == .alive {
            counters.suspicionsRaised += 1
            out.append(.raisedSuspicion(probe.target))
            suspect(probe.target, incarnation: state.incarnation, by: me, now: now, &out)
        } else if suspicions[probe.target]?.confirm(by: me) == true {
            // This member's own failed probe is an independent confirmation: tell the others.
            broadcasts.enqueue(MembershipUpdate(member: probe.target, address: state.address, status: .suspect,
                                                incarnation: state.incarnation, suspectedBy: me))
            out.append(.schedule(.suspicion(probe.target), at: suspicions[probe.target]!.deadline(members: liveCount, settings: settings)))
        }
    }

    private mutating func suspect(_ member: MemberID, incarnation: UInt64, by suspecter: MemberID, now: UInt64, _ out: inout [Directive]) {
        members[member]!.status = .suspect
        members[member]!.incarnation = incarnation
        let suspicion = Suspicion(incarnation: incarnation, since: now, by: suspecter)
        suspicions[member] = suspicion
        broadcasts.enqueue(MembershipUpdate(member: member, address: members[member]!.address, status: .suspect,
                                            incarnation: incarnation, suspectedBy: suspecter))
        out.append(.changed(member, .suspect))
        out.append(.schedule(.suspicion(member), at: suspicion.deadline(members: liveCount, settings: settings)))
    }

    private mutating func checkSuspicion(_ member: MemberID, now: UInt64, _ out: inout [Directive]) {
        guard let suspicion = suspicions[member], let state = members[member], state.status == .suspect,
              state.incarnation == suspicion.incarnation else { return }
        let deadline = suspicion.deadline(members: liveCount, settings: settings)
        guard now >= deadline else { return out.append(.schedule(.suspicion(member), at: deadline)) }
        counters.deadDeclared += 1
        declare(member, .dead, incarnation: state.incarnation, &out)
    }

    private mutating func declare(_ member: MemberID, _ status: MemberStatus, incarnation: UInt64, _ out: inout [Directive]) {
        liveCount -= 1  // only a live member is declared gone (nothing overrides gone)
        members[member]!.status = status
        members[member]!.incarnation = incarnation
        suspicions[member] = nil
        broadcasts.enqueue(MembershipUpdate(member: member, address: members[member]!.address, status: status, incarnation: incarnation))
        out.append(.changed(member, status))
    }

    // MARK: rumours

    private mutating func apply(_ update: MembershipUpdate, from sender: MemberID, now: UInt64, _ out: inout [Directive]) {
        // No honest member gets anywhere near this (one refutation per suspicion); refusing it
        // keeps a refutation's increment from overflowing.
        guard update.incarnation < UInt64.max / 2 else { return }
        if update.member == me {
            guard !hasLeft else { return }
            if update.status.isGone {
                out.append(.declaredDead)
                return
            }
            // Someone believes this member suspect: refute with a higher incarnation.
            guard update.status == .suspect, update.incarnation >= incarnation else { return }
            incarnation = update.incarnation + 1
            counters.refutations += 1
            if settings.lifeguard { awareness.apply(1) }
            broadcasts.enqueue(MembershipUpdate(member: me, address: address, status: .alive, incarnation: incarnation))
            return
        }
        guard let current = members[update.member] else {
            add(update)
            if update.status == .suspect {
                suspicions[update.member] = Suspicion(incarnation: update.incarnation, since: now, by: update.suspectedBy ?? sender)
                out.append(.schedule(.suspicion(update.member), at: suspicions[update.member]!.deadline(members: liveCount, settings: settings)))
            }
            broadcasts.enqueue(update)
            out.append(.changed(update.member, update.status))
            return
        }
        if update.status == .suspect, current.status == .suspect, update.incarnation == current.incarnation {
            // Another member's independent suspicion: Lifeguard shortens the timeout. (A full
            // table names no suspecter: that is no confirmation.)
            if let suspecter = update.suspectedBy, suspicions[update.member]?.confirm(by: suspecter) == true {
                broadcasts.enqueue(update)
                out.append(.schedule(.suspicion(update.member), at: suspicions[update.member]!.deadline(members: liveCount, settings: settings)))
            }
            return
        }
        guard update.overrides(status: current.status, incarnation: current.incarnation) else { return }
        members[update.member]!.address = update.address
        switch update.status {
        case .alive:
            members[update.member]!.status = .alive
            members[update.member]!.incarnation = update.incarnation
            suspicions[update.member] = nil
            broadcasts.enqueue(update)
            if current.status != .alive { out.append(.changed(update.member, .alive)) }
        case .suspect:
            suspect(update.member, incarnation: update.incarnation, by: update.suspectedBy ?? sender, now: now, &out)
        case .dead, .left:
            declare(update.member, update.status, incarnation: update.incarnation, &out)
        }
    }

    // MARK: helpers

    private func joinRequests() -> [Directive] {
        seeds.map { .pushPull(envelope(.pushPull(table: table, reply: false), gossip: []), address: $0) }
    }

    private func envelope(_ message: SWIMMessage, gossip: [MembershipUpdate]) -> SWIMEnvelope {
        SWIMEnvelope(from: me, fromAddress: address, message: message, gossip: gossip)
    }

    /// An envelope with as many waiting updates as fit.
    private mutating func envelope(_ message: SWIMMessage) -> SWIMEnvelope {
        envelope(message, gossip: takeGossip())
    }

    private mutating func takeGossip() -> [MembershipUpdate] {
        broadcasts.take(budget: settings.gossipBudgetBytes, limit: settings.retransmitLimit(members: liveCount), encodedSize: encodedSize)
    }

    private mutating func newSequence() -> UInt64 {
        lastSequence += 1
        return lastSequence
    }

    /// The next member to probe: round-robin over a shuffled list of live members, shuffled
    /// again at each pass (SWIM's "round-robin probe target selection").
    private mutating func nextTarget() -> MemberID? {
        for _ in 0..<2 {
            while probeIndex < probeOrder.count {
                let candidate = probeOrder[probeIndex]
                probeIndex += 1
                if isLive(candidate) { return candidate }
            }
            probeOrder = probeOrder.filter(isLive)
            probeOrder.shuffle(using: &rng)
            probeIndex = 0
            if probeOrder.isEmpty { return nil }
        }
        return nil
    }

    /// A member heard of for the first time.
    private mutating func add(_ update: MembershipUpdate) {
        members[update.member] = MemberState(address: update.address, status: update.status, incarnation: update.incarnation)
        guard !update.status.isGone else { return }
        liveCount += 1
        insertIntoProbeOrder(update.member)
    }

    private mutating func insertIntoProbeOrder(_ member: MemberID) {
        // At a random place still ahead in this pass, so a new member is probed within it,
        // and nobody already probed in it is probed twice.
        probeOrder.insert(member, at: Int.random(in: probeIndex...probeOrder.count, using: &rng))
    }

    /// Up to `count` distinct live members, chosen at random, none of `excluded`.
    private mutating func randomLiveMembers(_ count: Int, excluding excluded: Set<MemberID>) -> [MemberID] {
        guard count > 0, !probeOrder.isEmpty else { return [] }
        var chosen: [MemberID] = []
        var tries = 0
        while chosen.count < count && tries < count * 4 {
            tries += 1
            let candidate = probeOrder[Int.random(in: 0..<probeOrder.count, using: &rng)]
            if isLive(candidate), !excluded.contains(candidate), !chosen.contains(candidate) { chosen.append(candidate) }
        }
        return chosen
    }
}
