/// Log replication and commitment (paper §5.3, §5.4.2).
extension RaftNode {
    /// The leader appends an entry of its term, persists it, and sends it on.
    @discardableResult
    mutating func appendAsLeader(_ kind: RaftEntryKind, now: UInt64, _ out: inout RaftOutput) -> RaftEntry {
        let entry = RaftEntry(term: term, index: log.lastIndex + 1, kind: kind)
        log.append(entry)
        out.add(.persistEntries([entry]))
        if case .configuration = kind { adoptConfiguration(now: now) }
        for member in progress.keys.sorted() { sendAppend(to: member, &out) }
        advanceCommit(now: now, &out)
        return entry
    }

    /// A configuration appended by the leader is in force at once: replicate to the new
    /// members, stop replicating to the removed ones.
    mutating func adoptConfiguration(now: UInt64) {
        recomputeConfiguration()
        for member in configuration.members where member != id && progress[member] == nil {
            progress[member] = Progress(next: log.lastIndex, lastContact: now)
        }
        for member in progress.keys where !configuration.isMember(member) { progress[member] = nil }
    }

    /// What a follower needs next: entries from where it is, or the snapshot if those have
    /// been compacted away (paper §7).
    mutating func sendAppend(to member: ServerID, _ out: inout RaftOutput) {
        guard let next = progress[member]?.next else { return }
        if next <= log.snapshotIndex {
            counters.snapshotsSent += 1
            return send(.installSnapshot(InstallSnapshot(snapshot: snapshot)), to: member, &out)
        }
        let previous = next - 1
        let request = AppendEntries(prevLogIndex: previous, prevLogTerm: log.term(at: previous)!,
                                    entries: log.entries(from: next, limit: settings.maxEntriesPerMessage),
                                    leaderCommit: commitIndex)
        send(.appendEntries(request), to: member, &out)
    }

    /// The leader's periodic round: step down without a majority (check-quorum), else send
    /// every follower what it needs (an empty AppendEntries when it has everything).
    mutating func heartbeat(now: UInt64, _ out: inout RaftOutput) {
        if now >= leaderSince + settings.electionTimeoutMaximum {
            let recent = configuration.voters.filter { voter in
                voter == id || progress[voter]?.lastContact.map { now < $0 + settings.electionTimeoutMaximum } == true
            }
            if recent.count < configuration.quorum {
                counters.checkQuorumStepDowns += 1
                return becomeFollower(term: term, now: now, &out)
            }
        }
        for member in progress.keys.sorted() { sendAppend(to: member, &out) }
        out.add(.schedule(.heartbeat(term: term), at: now + settings.heartbeatInterval))
    }

    mutating func onAppendEntries(_ request: AppendEntries, from sender: ServerID, term sent: RaftTerm, now: UInt64,
                                  _ out: inout RaftOutput) {
        guard sent == term else {
            // From a deposed leader: the answer carries this term, which makes it step down.
            return send(.appendResponse(AppendResponse(success: false, matchIndex: 0)), to: sender, &out)
        }
        guard role != .leader else { return }  // two leaders in a term cannot be; the checker would say so
        heardFromLeader(sender, now: now, &out)
        var (previous, previousTerm, entries) = (request.prevLogIndex, request.prevLogTerm, request.entries)
        if previous < log.snapshotIndex {
            // Everything through the snapshot is committed, so it matches the leader's log:
            // check from the snapshot on.
            let lastCovered = previous + RaftIndex(entries.count)
            guard lastCovered > log.snapshotIndex else {
                return send(.appendResponse(AppendResponse(success: true, matchIndex: log.snapshotIndex)), to: sender, &out)
            }
            entries.removeFirst(Int(log.snapshotIndex - previous))
            (previous, previousTerm) = (log.snapshotIndex, log.snapshotTerm)
        }
        guard let ownTerm = log.term(at: previous) else {
            let hint = AppendResponse(success: false, matchIndex: 0, conflictIndex: log.lastIndex + 1)
            return send(.appendResponse(hint), to: sender, &out)
        }
        guard ownTerm == previousTerm else {
            let hint = AppendResponse(success: false, matchIndex: 0, conflictIndex: log.firstIndex(ofTermAt: previous), conflictTerm: ownTerm)
            return send(.appendResponse(hint), to: sender, &out)
        }
        // Log matching: the logs agree through `previous`. An entry already there with the
        // same term is the same entry (kept: a late, reordered copy of an older message
        // must not cut off what a newer one added); one with another term, and all after
        // it, are replaced.
        var appended: [RaftEntry] = []
        var changedConfiguration = false
        for entry in entries {
            if let existing = log.term(at: entry.index) {
                if existing == entry.term { continue }
                log.truncate(from: entry.index)
                out.add(.persistTruncation(from: entry.index))
                changedConfiguration = changedConfiguration || entry.index <= configurationIndex
            }
            log.append(entry)
            appended.append(entry)
            if case .configuration = entry.kind { changedConfiguration = true }
        }
        if !appended.isEmpty { out.add(.persistEntries(appended)) }
        if changedConfiguration { recomputeConfiguration() }
        let lastNew = previous + RaftIndex(entries.count)
        // Only what this message vouched for: beyond `lastNew` this log may yet differ from the leader's.
        commitIndex = max(commitIndex, min(request.leaderCommit, lastNew))
        send(.appendResponse(AppendResponse(success: true, matchIndex: lastNew)), to: sender, &out)
        applyCommitted(&out)
    }

    mutating func onAppendResponse(_ response: AppendResponse, from member: ServerID, term answered: RaftTerm, now: UInt64,
                                   _ out: inout RaftOutput) {
        guard role == .leader, answered == term, var state = progress[member] else { return }
        state.lastContact = now
        if response.success {
            // A follower cannot hold more than was sent to it: a larger claim is a bad peer's.
            guard response.matchIndex <= log.lastIndex else { return }
            state.match = max(state.match, response.matchIndex)
            state.next = max(state.next, state.match + 1)
        } else {
            // Skip the follower's whole conflicting term at once: to just after this log's
            // last entry of that term if it has one, else to the follower's first of it.
            var next = response.conflictIndex
            if let conflictTerm = response.conflictTerm, let last = log.lastIndex(of: conflictTerm) { next = last + 1 }
            // Never behind what is known to match (a late rejection), never beyond the end.
            state.next = min(max(next, state.match + 1), log.lastIndex + 1)
        }
        progress[member] = state
        if response.success { advanceCommit(now: now, &out) }
        guard role == .leader else { return }  // a leader that committed its own removal stepped down
        if !response.success || state.next <= log.lastIndex { sendAppend(to: member, &out) }
    }

    /// Commits the highest index a majority of voters hold, if it is of this term: an older
    /// term's entry on a majority can still be replaced (paper figure 8), so it commits only
    /// with one of this term after it.
    mutating func advanceCommit(now: UInt64, _ out: inout RaftOutput) {
        let voters = configuration.sortedVoters
        guard role == .leader, !voters.isEmpty else { return }
        let matches = voters.map { $0 == id ? log.lastIndex : progress[$0]?.match ?? 0 }.sorted(by: >)
        let candidate = matches[configuration.quorum - 1]
        guard candidate > commitIndex, settings.unsafeCommitOlderTerms || log.term(at: candidate) == term else { return }
        commitIndex = candidate
        applyCommitted(&out)
        if configurationIndex <= commitIndex, !isVoter {
            // Its own removal is committed: tell the others, then stop leading (dissertation §4.2.2).
            for member in progress.keys.sorted() { sendAppend(to: member, &out) }
            becomeFollower(term: term, now: now, &out)
        }
    }
}
