/// The simulated servers' application, the control plane's partition table, applied as
/// `ControlNode` applies it; the leaders' plans for it; membership's changing view of the
/// routers; and the table's checks.
extension RaftSimulator {
    /// Applies a committed entry to the digest (for Raft's state machine safety) and, a
    /// command, to the table as `ControlNode.apply` does: a change that does not decode, or
    /// that the table refuses, changes nothing.
    mutating func apply(_ entry: RaftEntry, at target: Int) {
        let (id, old) = (servers[target].id, servers[target].table)
        var (digest, applied) = (servers[target].digest, servers[target].applied)
        if let broken = checker.applies(entry, digest: &digest, applied: &applied, at: id) { violate("state machine safety", broken) }
        (servers[target].digest, servers[target].applied) = (digest, applied)
        if case .command(let bytes) = entry.kind { countTableChange(applyChange(bytes, at: target), at: entry.index) }
        checkTable(at: target, from: old, oneChange: true)
        if let broken = tableChecker.holds(servers[target].table, after: entry.index, at: id) { violate("table state", broken) }
    }

    /// Whether the change in `bytes` changed the server's table.
    mutating func applyChange(_ bytes: [UInt8], at target: Int) -> Bool {
        guard let change = try? PartitionTableCodec.decodeChange(bytes) else { return false }
        return servers[target].table.apply(change) == nil
    }

    /// Counts each log entry's change once, as the first server to apply it decided it
    /// (every server decides it the same way). Servers apply in order, so the first to
    /// apply an index is the first past the highest counted.
    mutating func countTableChange(_ changed: Bool, at index: RaftIndex) {
        guard index > tableCountedThrough else { return }
        tableCountedThrough = index
        if changed { report.tableChangesApplied += 1 } else { report.tableChangesRefused += 1 }
    }

    /// Loads a snapshot: the digest (for Raft's state machine safety) and the table.
    mutating func install(_ snapshot: RaftSnapshot, at target: Int) {
        let (id, old) = (servers[target].id, servers[target].table)
        guard let decoded = decodeSnapshot(snapshot.data) else {
            return violate("snapshot", "\(id) got a snapshot through \(snapshot.lastIndex) it cannot read")
        }
        let (applied, digest, table) = decoded
        if applied != snapshot.lastIndex { violate("snapshot", "\(id) got a snapshot through \(snapshot.lastIndex) holding \(applied)") }
        if let broken = checker.installs(index: applied, digest: digest, at: id) { violate("state machine safety", broken) }
        (servers[target].applied, servers[target].digest, servers[target].table) = (applied, digest, table)
        checkTable(at: target, from: old, oneChange: false)
        if let broken = tableChecker.holds(table, after: applied, at: id) { violate("table state", broken) }
    }

    /// A snapshot's data: how far the application applied and its digest (8 bytes each),
    /// then the table as `ControlNode` snapshots it.
    static func encodeSnapshot(_ applied: RaftIndex, _ digest: UInt64, _ table: PartitionTable) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: applied >> (8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: digest >> (8 * $0)) }
            + PartitionTableCodec.encode(table)
    }

    func decodeSnapshot(_ data: [UInt8]) -> (RaftIndex, UInt64, PartitionTable)? {
        guard data.count > 16, let table = try? PartitionTableCodec.decodeTable(Array(data[16...])),
              table.partitions.count == plan.partitionCount else { return nil }
        let read = { (start: Int) in (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[start + $1]) << (8 * $1) } }
        return (read(0), read(8), table)
    }

    /// The table's rules, after a server's table went from `old` to what it holds now (in
    /// one change, or by a snapshot).
    mutating func checkTable(at target: Int, from old: PartitionTable, oneChange: Bool) {
        let (id, table) = (servers[target].id, servers[target].table)
        guard table != old else { return }
        if let broken = PartitionTableChecker.grows(from: old, to: table, at: id) { violate("epochs only grow", broken) }
        if let broken = tableChecker.moves(from: old, to: table, oneChange: oneChange, at: id) { violate("ownership moves in sync", broken) }
        if let broken = tableChecker.owners(in: table, at: id) { violate("one owner per epoch", broken) }
    }

    // MARK: the leaders' plans

    /// A leader plans, as `ControlNode.plan` does: it proposes one of the changes
    /// `TablePlanner` derives from its own applied table for the routers alive now, or
    /// nothing. Its table may lag the log (and a deposed leader may not know it yet), so
    /// some proposals are stale: the table refuses them when they commit, which is what
    /// fences an old view.
    mutating func propose() {
        let leaders = servers.indices.filter { servers[$0].up && servers[$0].node.role == .leader }
        guard let leader = leaders.randomElement(using: &rng) else { return }
        let changes = TablePlanner.changes(for: servers[leader].table, alive: alive, replicas: plan.replicas)
        guard let change = changes.randomElement(using: &rng) else { return }
        let payload = PartitionTableCodec.encode(change)
        guard act(at: leader, { node, now throws(RaftError) in try node.propose(payload, now: now).actions }) == nil else { return }
        report.proposals += 1
        if plan.unsafeApplyOnPropose, servers[leader].up {
            let old = servers[leader].table
            _ = applyChange(payload, at: leader)
            checkTable(at: leader, from: old, oneChange: true)
        }
    }

    /// Membership's view of the routers changes: one of them dies, or comes back (one
    /// always stays alive). Owners die, so partitions move.
    mutating func changeLiveness() {
        guard let router = plan.routers.randomElement(using: &rng) else { return }
        if !alive.contains(router) {
            event = "router \(router) returns"
            alive.insert(router)
        } else if alive.count > 1 {
            event = "router \(router) dies"
            alive.remove(router)
        }
    }
}
