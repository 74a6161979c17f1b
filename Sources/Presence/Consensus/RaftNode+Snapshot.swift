/// Snapshots and log compaction (paper §7).
extension RaftNode {
    /// The application has applied everything through `index` and serialised its state as
    /// `data`: keep that as the snapshot and drop the log through it. Followers that still
    /// need those entries are sent the snapshot instead.
    public mutating func compact(through index: RaftIndex, snapshot data: [UInt8]) throws(RaftError) -> [RaftAction] {
        guard index <= lastApplied, index > log.snapshotIndex else {
            throw .cannotCompact(through: index, applied: lastApplied, snapshot: log.snapshotIndex)
        }
        let taken = RaftSnapshot(lastIndex: index, lastTerm: log.term(at: index)!, configuration: configuration(at: index), data: data)
        log.compact(through: index, term: taken.lastTerm)
        snapshot = taken
        return [.persistSnapshot(taken)]
    }

    mutating func onInstallSnapshot(_ offered: RaftSnapshot, from sender: ServerID, term sent: RaftTerm, now: UInt64,
                                    _ out: inout RaftOutput) {
        guard sent == term else {
            return send(.snapshotResponse(SnapshotResponse(matchIndex: 0)), to: sender, &out)
        }
        guard role != .leader else { return }
        heardFromLeader(sender, now: now, &out)
        guard offered.lastIndex > commitIndex else {
            // Nothing new (a duplicate, or entries that arrived meanwhile): everything through
            // the commit index matches the leader's log already.
            return send(.snapshotResponse(SnapshotResponse(matchIndex: offered.lastIndex)), to: sender, &out)
        }
        if log.term(at: offered.lastIndex) != offered.lastTerm, log.lastIndex >= offered.lastIndex {
            // This log differs from the leader's from there on (log matching): drop it before
            // the snapshot is stored, so a crash in between never leaves entries of another
            // history after the snapshot.
            log.truncate(from: offered.lastIndex)
            out.add(.persistTruncation(from: offered.lastIndex))
        }
        // What follows the snapshot's last entry, if this log has it, is kept (paper §7).
        log.compact(through: offered.lastIndex, term: offered.lastTerm)
        snapshot = offered
        out.add(.persistSnapshot(offered))
        out.add(.installSnapshot(offered))
        counters.snapshotsInstalled += 1
        (commitIndex, lastApplied) = (offered.lastIndex, offered.lastIndex)
        recomputeConfiguration()
        send(.snapshotResponse(SnapshotResponse(matchIndex: offered.lastIndex)), to: sender, &out)
    }

    mutating func onSnapshotResponse(_ response: SnapshotResponse, from member: ServerID, term answered: RaftTerm, now: UInt64,
                                     _ out: inout RaftOutput) {
        guard role == .leader, answered == term, var state = progress[member], response.matchIndex <= log.lastIndex else { return }
        state.lastContact = now
        state.match = max(state.match, response.matchIndex)
        state.next = max(state.next, state.match + 1)
        progress[member] = state
        advanceCommit(now: now, &out)
        guard role == .leader else { return }
        if state.next <= log.lastIndex { sendAppend(to: member, &out) }
    }
}
