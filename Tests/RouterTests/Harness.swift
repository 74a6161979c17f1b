import Router

/// A router core driven by a manual clock: commands at the current time, timers fired when
/// the clock is advanced past them, every effect recorded for assertions.
struct Harness {
    var core: RouterCore
    var now: Instant = 1_000_000_000
    var effects: [RouterEffect] = []
    private var timers: [(at: Instant, timer: RouterTimer)] = []

    init(settings: RoutingSettings = RoutingSettings(), operators: [OperatorProfile] = Harness.team, partitions: Int = 8, seed: UInt64 = 1) {
        core = RouterCore(partitionCount: partitions,
                          sites: [SiteConfiguration(id: "shop", departments: ["sales", "billing", "support"], operators: operators, settings: settings)],
                          seed: seed)
    }

    static let team = [
        op("anna", ["sales": 5, "billing": 2], max: 2),
        op("ben", ["sales": 2], max: 2),
        op("carl", ["billing": 4, "support": 3], max: 3),
    ]

    static func op(_ id: String, _ skills: [Skill: Int], max: Int) -> OperatorProfile {
        OperatorProfile(id: OperatorID(id), site: "shop", displayName: id.capitalized, skills: skills, maxChats: max)
    }

    /// Runs a command, collecting its effects and timers.
    mutating func run<T>(_ body: (inout RouterCore, Instant, inout [RouterEffect]) throws(RouterError) -> T) throws(RouterError) -> T {
        var produced: [RouterEffect] = []
        let result = try body(&core, now, &produced)
        record(produced)
        return result
    }

    private mutating func record(_ produced: [RouterEffect]) {
        for effect in produced {
            if case .schedule(let timer, let at) = effect { timers.append((at, timer)) }
        }
        effects += produced
    }

    /// Advances the clock by `nanoseconds`, firing due timers in time order.
    mutating func advance(_ nanoseconds: UInt64) {
        let target = now + nanoseconds
        while let next = timers.enumerated().filter({ $0.element.at <= target }).min(by: { $0.element.at < $1.element.at }) {
            timers.remove(at: next.offset)
            now = max(now, next.element.at)
            var produced: [RouterEffect] = []
            core.onTimer(next.element.timer, now: now, into: &produced)
            record(produced)
        }
        now = target
    }

    mutating func advance(seconds: UInt64) { advance(Nanos.seconds(seconds)) }

    /// Logs an operator in and sets them online.
    mutating func online(_ ids: String...) throws(RouterError) {
        for id in ids {
            try run { (core, now, effects) throws(RouterError) in try core.operatorConnected(OperatorID(id), now: now, into: &effects) }
            try run { (core, now, effects) throws(RouterError) in try core.setStatus(OperatorID(id), .online, now: now, into: &effects) }
        }
    }

    mutating func start(_ visitor: String, _ department: Skill, level: Int = 1, priority: Int = 0) throws(RouterError) -> ConversationID {
        try run { (core, now, effects) throws(RouterError) in
            try core.startConversation(site: "shop", visitor: VisitorID(visitor), department: department, minimumLevel: level,
                                       priority: priority, now: now, into: &effects)
        }
    }

    /// Starts `count` chats that `op` accepts, so their slots are taken.
    @discardableResult
    mutating func fillSlots(_ op: String, _ count: Int, _ department: Skill) throws(RouterError) -> [ConversationID] {
        var ids: [ConversationID] = []
        for _ in 0..<count {
            let id = try start("busy-\(op)-\(now)-\(ids.count)", department)
            precondition(assigned(id) == OperatorID(op), "\(op) should have been offered \(id)")
            try accept(id, op)
            ids.append(id)
        }
        return ids
    }

    mutating func accept(_ id: ConversationID, _ op: String) throws(RouterError) {
        try run { (core, now, effects) throws(RouterError) in try core.accept(id, by: OperatorID(op), now: now, into: &effects) }
    }

    mutating func decline(_ id: ConversationID, _ op: String) throws(RouterError) {
        try run { (core, now, effects) throws(RouterError) in try core.decline(id, by: OperatorID(op), now: now, into: &effects) }
    }

    mutating func end(_ id: ConversationID, _ op: String) throws(RouterError) {
        try run { (core, now, effects) throws(RouterError) in try core.end(id, by: OperatorID(op), now: now, into: &effects) }
    }

    func state(_ id: ConversationID) -> ConversationState? { core.conversation(id)?.state }
    func assigned(_ id: ConversationID) -> OperatorID? { core.conversation(id)?.assignedOperator }
    func home(_ op: String) -> OperatorHome { core.homes[OperatorID(op)]! }

    /// The conversations offered to `op`, in order, from the effects so far.
    func offers(to op: String) -> [ConversationID] {
        effects.compactMap {
            if case .toOperator(let target, .offer(let id, _, _, _)) = $0, target == OperatorID(op) { return id }
            return nil
        }
    }

    /// The latest queue notice each visitor got.
    func lastQueueNotice(_ id: ConversationID) -> (position: Int, wait: UInt64)? {
        for effect in effects.reversed() {
            if case .toVisitor(let target, .queued(let position, let wait)) = effect, target == id { return (position, wait) }
        }
        return nil
    }

    mutating func clearEffects() { effects.removeAll() }
}
