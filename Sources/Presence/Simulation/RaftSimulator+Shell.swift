/// The simulated shell: carrying out actions (the disk, the network; the application is in
/// `RaftSimulator+Table`), membership changes, and the Raft checks after each event.
extension RaftSimulator {
    /// Carries out a server's actions in order. A torn event (the server crashes inside it)
    /// makes only a random prefix of its persist actions durable and does nothing else: the
    /// shell fsyncs before it sends, so nothing was sent yet.
    mutating func carryOut(_ actions: [RaftAction], at target: Int, torn: Bool) {
        let persists = actions.filter { if case .persistState = $0 { true } else if case .persistEntries = $0 { true }
            else if case .persistTruncation = $0 { true } else if case .persistSnapshot = $0 { true } else { false } }.count
        var durable = torn ? Int.random(in: 0...persists, using: &rng) : persists
        for action in actions {
            switch action {
            case .persistState, .persistEntries, .persistTruncation, .persistSnapshot:
                guard durable > 0 else { continue }
                durable -= 1
                write(action, at: target)
            case .send(let to, let envelope):
                guard !torn || plan.unsafeSendBeforeFsync, let receiver = index[to] else { continue }
                transmit(envelope, from: target, to: receiver)
            case .apply(let entries):
                guard !torn else { continue }
                for entry in entries where report.violation == nil { apply(entry, at: target) }
                compactIfDue(target)
            case .installSnapshot(let snapshot):
                guard !torn else { continue }
                install(snapshot, at: target)
            case .schedule(let timer, let at):
                guard !torn else { continue }
                queue.push(at: max(at, now), .timer(timer, server: target, boot: servers[target].boot))
            case .leaderChanged:
                break
            }
        }
    }

    mutating func write(_ action: RaftAction, at target: Int) {
        switch action {
        case .persistState(let term, let vote): (servers[target].disk.term, servers[target].disk.votedFor) = (term, vote)
        case .persistEntries(let entries):
            if let first = entries.first, first.index != servers[target].disk.snapshot.lastIndex + RaftIndex(servers[target].disk.entries.count) + 1 {
                violate("persistence", "\(servers[target].id) appends \(first.index) with a gap on disk")
            }
            servers[target].disk.entries += entries
        case .persistTruncation(let from): servers[target].disk.entries.removeAll { $0.index >= from }
        case .persistSnapshot(let snapshot):
            servers[target].disk.snapshot = snapshot
            servers[target].disk.entries.removeAll { $0.index <= snapshot.lastIndex }
        default: break
        }
    }

    /// The application compacts once enough applied entries follow the snapshot.
    mutating func compactIfDue(_ target: Int) {
        let server = servers[target]
        guard server.applied >= server.node.log.snapshotIndex + plan.compactAfter else { return }
        let data = Self.encodeSnapshot(server.applied, server.digest, server.table)
        act(at: target) { node, _ throws(RaftError) in try node.compact(through: server.applied, snapshot: data) }
    }

    /// Puts a message on the network: during the faults, cut links and losses drop it,
    /// and some are duplicated; always, delay and jitter reorder, and a few are very late.
    mutating func transmit(_ envelope: RaftEnvelope, from sender: Int, to receiver: Int) {
        var copies = 1
        if faulty {
            let link = Link(from: sender, to: receiver)
            if cuts.values.contains(where: { $0.contains(link) }) { return }
            if Double.random(in: 0..<1, using: &rng) < plan.loss { return }
            if Double.random(in: 0..<1, using: &rng) < plan.duplication { copies = 2 }
        }
        for _ in 0..<copies {
            var delay = plan.delay + UInt64.random(in: 0...plan.jitter, using: &rng)
            if faulty, Double.random(in: 0..<1, using: &rng) < plan.lateShare { delay += UInt64.random(in: 0...plan.lateDelay, using: &rng) }
            queue.push(at: now + delay, .deliver(envelope, to: receiver))
        }
    }

    // MARK: membership changes

    /// One membership change, chosen among those that keep 3 to 5 voters, at the leader.
    mutating func changeMembership() {
        guard let leader = servers.indices.filter({ servers[$0].up && servers[$0].node.role == .leader })
            .max(by: { servers[$0].node.term < servers[$1].node.term }) else { return }
        let configuration = servers[leader].node.configuration
        let outside = servers.map(\.id).filter { !configuration.isMember($0) }
        var choices: [MembershipChange] = []
        if configuration.voters.count < 5, let observer = configuration.observers.sorted().randomElement(using: &rng) { choices.append(.addVoter(observer)) }
        if configuration.voters.count > 3, let voter = configuration.sortedVoters.randomElement(using: &rng) { choices.append(.addObserver(voter)) }
        if let observer = configuration.observers.sorted().randomElement(using: &rng) { choices.append(.removeObserver(observer)) }
        if let server = outside.randomElement(using: &rng) { choices.append(.addObserver(server)) }
        guard let change = choices.randomElement(using: &rng) else { return }
        if act(at: leader, { node, now throws(RaftError) in try node.changeMembership(change, now: now).actions }) == nil {
            report.membershipChanges += 1
        }
    }

    // MARK: checks

    mutating func check(_ target: Int, before: RaftLog, previousCommit: RaftIndex, wasLeader: Bool, actions: [RaftAction], torn: Bool) {
        let node = servers[target].node
        for action in actions {
            switch action {
            case .persistEntries(let entries):
                for entry in entries {
                    if let broken = checker.appends(entry, previousTerm: node.log.term(at: entry.index - 1), at: node.id) { violate("log matching", broken) }
                }
            case .persistTruncation(let from):
                if from <= previousCommit || (before.entry(at: from) != nil && before.entry(at: from) == checker.committed[from]) {
                    violate("committed entry lost", "\(node.id) truncates from \(from), committed through \(previousCommit)")
                }
            default: break
            }
        }
        // What a torn event decided was never released (no send, no apply): it did not happen.
        guard !torn else { return }
        if node.role == .leader {
            if let broken = checker.leads(node.id, term: node.term) { violate("election safety", broken) }
            if !wasLeader, let broken = checker.checkComplete(node) { violate("leader completeness", broken) }
        }
        if let broken = checker.commits(node, from: previousCommit) { violate("committed entry changed", broken) }
    }

    /// What the server holds in memory is what it persisted.
    mutating func checkDisk(_ target: Int) {
        let (node, disk) = (servers[target].node, servers[target].disk)
        guard disk.term == node.term, disk.votedFor == node.votedFor, disk.snapshot.lastIndex == node.log.snapshotIndex,
              disk.entries.count == node.log.entries.count, disk.entries.last == node.log.entries.last else {
            return violate("persistence", "\(node.id)'s memory (term \(node.term), log to \(node.log.lastIndex)) is not what it persisted "
                               + "(term \(disk.term), log to \(disk.snapshot.lastIndex + RaftIndex(disk.entries.count)))")
        }
    }

    /// Everyone up; the leader of the highest term has committed all of its log, and every
    /// member of its configuration has applied all of it.
    func converged() -> Bool {
        guard servers.allSatisfy(\.up), let top = servers.map(\.node.term).max(),
              let leader = servers.first(where: { $0.node.role == .leader && $0.node.term == top })?.node,
              leader.commitIndex == leader.log.lastIndex else { return false }
        return leader.configuration.members.allSatisfy { member in
            index[member].map { servers[$0].applied == leader.commitIndex && servers[$0].node.term == top } ?? false
        }
    }

    func status() -> String {
        servers.map { server in
            let node = server.node
            return "\(node.id)\(server.up ? "" : " down") \(node.role) t\(node.term) log \(node.log.lastIndex) commit \(node.commitIndex) applied \(server.applied)"
        }.joined(separator: "; ")
    }

    mutating func violate(_ rule: String, _ detail: String) {
        guard report.violation == nil else { return }
        report.violation = RaftViolation(seed: plan.seed, time: now, event: event, rule: rule, detail: detail)
    }
}
