import Foundation
import Wire

/// A deterministic, seeded world of `members` SWIM instances over a simulated network:
/// loss, delay with jitter (so reordering), duplication, asymmetric partitions, slow members
/// (that handle what they receive late, as under CPU starvation or long GC pauses) and clock drift
/// (each member's clock runs at its own rate). One event queue in simulated nanoseconds; the
/// same plan and seed give the same report. What `loadgen gossip` and the tests run.
public struct SWIMSimulator {
    /// What to simulate.
    public struct Plan: Sendable {
        public var members: Int
        public var seconds: UInt64
        public var settings: SWIMSettings
        /// Probability that a datagram is lost.
        public var loss: Double = 0
        /// One-way delay and its jitter (uniform 0...jitter on top).
        public var delay: UInt64 = 500_000
        public var jitter: UInt64 = 1_000_000
        /// Probability that a datagram arrives twice.
        public var duplication: Double = 0
        /// Share of members that are slow (starved of CPU, or in long GC pauses): each datagram
        /// they receive is handled up to `lag` late (uniformly), while their timers fire on time.
        public var slowFraction: Double = 0
        public var lag: UInt64 = 1_000_000_000
        /// Each member's clock runs at 1 ± up to this (0.001: a millisecond per second).
        public var drift: Double = 0
        /// Members crashed (never to return) at random times in the middle half of the run.
        public var crashes: Int = 0
        /// One-way blackouts: datagrams from members `from` to members `to` are lost between
        /// `start` and `end` (seconds since the run started).
        public var blackouts: [(from: Range<Int>, to: Range<Int>, start: UInt64, end: UInt64)] = []
        public var seed: UInt64 = 1

        public init(members: Int, seconds: UInt64, settings: SWIMSettings) {
            (self.members, self.seconds, self.settings) = (members, seconds, settings)
        }
    }

    private enum Event {
        case deliver(SWIMEnvelope, to: Int)
        case timer(SWIMInstance.Timer, member: Int)
        case crash(Int)
    }

    private struct Node {
        var instance: SWIMInstance
        var crashed = false
        var slow = false
        /// Local clock rate.
        var rate = 1.0
    }

    private let plan: Plan
    private var nodes: [Node] = []
    private var queue = EventHeap<Event>()
    private var now: UInt64 = 0
    private var rng: SplitMix64
    private var indexByMember: [MemberID: Int] = [:]
    private var indexByAddress: [String: Int] = [:]
    private var recorder: SimulationRecorder

    public init(_ plan: Plan) {
        self.plan = plan
        rng = SplitMix64(seed: plan.seed)
        recorder = SimulationRecorder(members: plan.members, settings: plan.settings)
    }

    /// Runs the plan to its end and reports.
    public mutating func run() -> SimulationReport {
        formCluster()
        let end = plan.seconds * 1_000_000_000
        while let (time, event) = queue.pop(), time <= end {
            now = time
            handle(event)
        }
        now = end
        return recorder.report(now: end, crashed: Set(nodes.indices.filter { nodes[$0].crashed }))
    }

    // MARK: setup

    /// Every member starts knowing every other (a formed cluster: the run measures what
    /// happens to it, not the joins), at a random point of its first period.
    private mutating func formCluster() {
        let ids = (0..<plan.members).map { MemberID(node: "r\($0)", generation: 1) }
        let table = ids.enumerated().map { MembershipUpdate(member: $1, address: "10.0.\($0 / 250).\($0 % 250):7946", status: .alive, incarnation: 0) }
        for (index, id) in ids.enumerated() {
            var instance = SWIMInstance(me: id, address: table[index].address, settings: plan.settings, seed: plan.seed &* 31 &+ UInt64(index))
            instance.know(table)
            var node = Node(instance: instance)
            node.slow = Double.random(in: 0..<1, using: &rng) < plan.slowFraction
            node.rate = 1 + Double.random(in: -plan.drift...plan.drift, using: &rng)
            nodes.append(node)
            indexByMember[id] = index
            indexByAddress[table[index].address] = index
        }
        recorder.slow = Set(nodes.indices.filter { nodes[$0].slow })
        for index in nodes.indices {
            let directives = nodes[index].instance.start(now: 0, seeds: [])
            carryOut(directives, from: index)
        }
        let quarter = plan.seconds * 250_000_000
        for victim in Array(nodes.indices.shuffled(using: &rng).prefix(plan.crashes)) {
            queue.push(at: quarter + UInt64.random(in: 0..<(2 * quarter), using: &rng), .crash(victim))
        }
    }

    // MARK: events

    private mutating func handle(_ event: Event) {
        switch event {
        case .crash(let index):
            nodes[index].crashed = true
            recorder.crashed(index, at: now)
        case .deliver(let envelope, let index):
            guard !nodes[index].crashed else { return }
            let directives = nodes[index].instance.onMessage(envelope, now: localTime(index))
            carryOut(directives, from: index)
        case .timer(let timer, let index):
            guard !nodes[index].crashed else { return }
            let directives = nodes[index].instance.onTimer(timer, now: localTime(index))
            carryOut(directives, from: index)
        }
    }

    private func localTime(_ index: Int) -> UInt64 { UInt64(Double(now) * nodes[index].rate) }

    private mutating func carryOut(_ directives: [SWIMInstance.Directive], from index: Int) {
        for directive in directives {
            switch directive {
            case .send(let envelope, let member, _):
                guard let target = indexByMember[member] else { continue }
                transmit(envelope, from: index, to: target, reliable: false)
            case .pushPull(let envelope, let address):
                guard let target = indexByAddress[address] else { continue }
                transmit(envelope, from: index, to: target, reliable: true)
            case .schedule(let timer, let at):
                // The member's deadline is on its own clock; rounded up (and a nanosecond
                // on), so the member's clock has reached it when the timer fires.
                let global = UInt64((Double(at) / nodes[index].rate).rounded(.up)) + 1
                queue.push(at: max(now + 1, global), .timer(timer, member: index))
            case .changed(let member, let status):
                guard let subject = indexByMember[member] else { continue }
                recorder.changed(observer: index, subject: subject, to: status, at: now, crashed: nodes[subject].crashed)
            case .declaredDead:
                break  // counted where the others declared it (falseDead), not simulated further
            case .raisedSuspicion(let member):
                guard let subject = indexByMember[member] else { continue }
                recorder.raisedSuspicion(by: index, of: subject, crashed: nodes[subject].crashed)
            }
        }
    }

    /// Puts a message on the simulated network. TCP (`reliable`) is neither lost nor
    /// duplicated, only delayed.
    private mutating func transmit(_ envelope: SWIMEnvelope, from sender: Int, to target: Int, reliable: Bool) {
        recorder.sent(bytes: SWIMWireSize.estimate(envelope), by: sender)
        let seconds = now / 1_000_000_000
        if plan.blackouts.contains(where: { $0.from.contains(sender) && $0.to.contains(target) && (($0.start)..<($0.end)).contains(seconds) }) {
            return
        }
        if !reliable, Double.random(in: 0..<1, using: &rng) < plan.loss { return }
        let copies = !reliable && Double.random(in: 0..<1, using: &rng) < plan.duplication ? 2 : 1
        for _ in 0..<copies {
            // A slow member's own processing adds its lag (its socket queue, its starved loop).
            let lag = nodes[target].slow ? UInt64.random(in: 0...plan.lag, using: &rng) : 0
            queue.push(at: now + plan.delay + UInt64.random(in: 0...plan.jitter, using: &rng) + lag, .deliver(envelope, to: target))
        }
    }
}

/// A binary min-heap of timed events; ties in time keep insertion order, so a run is exactly
/// repeatable.
struct EventHeap<Element> {
    private var items: [(time: UInt64, order: UInt64, element: Element)] = []
    private var counter: UInt64 = 0

    mutating func push(at time: UInt64, _ element: Element) {
        counter += 1
        items.append((time, counter, element))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard (items[child].time, items[child].order) < (items[parent].time, items[parent].order) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (UInt64, Element)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let (left, right) = (2 * parent + 1, 2 * parent + 2)
            var smallest = parent
            if left < items.count && (items[left].time, items[left].order) < (items[smallest].time, items[smallest].order) { smallest = left }
            if right < items.count && (items[right].time, items[right].order) < (items[smallest].time, items[smallest].order) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.element)
    }
}
