import Foundation
import Wire

/// What a router node keeps beyond the log: conversations that are over move to the
/// transcript store, compaction gives partitions new snapshots, and the timers that do both.
extension RouterNode {
    /// Moves the conversations that have been over for `closedFor` (default `archiveDelay`)
    /// out of memory into the transcript store, through the log's writer thread (in order
    /// with compactions: a compaction never drops the records of a conversation whose
    /// transcript is not durable yet). Returns how many left memory; `reply` runs on the
    /// loop once they are stored.
    @discardableResult
    public func archive(closedFor: UInt64? = nil, reply: @escaping (Result<Int, any Error>) -> Void = { _ in }) -> Int {
        loop.assertInLoop()
        let closed = core.evictClosed(now: coreTime(), closedFor: closedFor ?? archiveDelay)
        guard !closed.isEmpty else {
            reply(.success(0))
            return 0
        }
        let ids = closed.map(\.id)
        for id in ids { streams.evicted(core.partitionIndex(of: id)) }
        delegate?.routerNode(self, didArchive: ids)
        // After a restart the log may still hold conversations archived before it: those
        // leave memory again without a second copy in the store.
        let fresh = closed.filter { !transcripts.contains($0.id) }
        storeTranscripts(fresh) { result in reply(result.map { closed.count }.mapError { $0 }) }
        return closed.count
    }

    /// Stores transcripts through the log's writer thread (in order with appends and
    /// compactions); until they are durable, reads find them in `archiving`. A failure
    /// fails the node: the log may hold the only copy. `done` runs on the loop.
    func storeTranscripts(_ conversations: [Conversation], done: @escaping (Result<Void, RouterError>) -> Void) {
        for conversation in conversations { archiving[conversation.id] = conversation }
        let (transcripts, box, loop) = (self.transcripts, UncheckedBox((node: self, done: done)), self.loop)
        log.perform({ () throws(StorageError) in try transcripts.store(conversations, on: Date()) }, completion: { result in
            loop.execute {
                let (node, done) = box.value
                for conversation in conversations { node.archiving[conversation.id] = nil }
                switch result {
                case .success:
                    done(.success(()))
                case .failure(let error):
                    node.fail(.storageFailed("\(error)"))
                    done(.failure(.storageFailed("\(error)")))
                }
            }
        })
    }

    /// Rates a chat that has already left memory (a shopper may rate a while after the
    /// end): its transcript is stored again with the rating, through the log's writer
    /// thread; the newer copy is the one read. `reply` runs on the loop once it is durable.
    public func rateArchived(_ id: ConversationID, rating: Rating, reply: @escaping (Result<Void, RouterError>) -> Void) {
        loop.assertInLoop()
        if let failure { return reply(.failure(failure)) }
        let stored: Conversation?
        do {
            stored = try conversation(id)
        } catch {
            return reply(.failure(.storageFailed("\(error)")))
        }
        guard var rated = stored, core.conversation(id) == nil else { return reply(.failure(.unknownConversation(id))) }
        do throws(RouterError) {
            try Partition.checkRating(rating, of: rated)
        } catch {
            return reply(.failure(error))
        }
        rated.rating = rating
        // Meanwhile reads (and a second rating) see the rated copy.
        storeTranscripts([rated], done: reply)
    }

    /// Archives what is due (see `archive`), then gives every partition whose stream went
    /// on a new snapshot (the records of its conversations still in memory, covering its
    /// stream up to now) and drops the segments before, so the log (and recovery time)
    /// stays proportional to what is live. The conversations are taken here as values and
    /// encoded and written by the log's compaction thread (`DurableLog.compact`), so
    /// neither the loop nor the appends wait for it. Expired transcripts are deleted.
    /// `reply` runs on the loop when done, with the number archived.
    public func compact(reply: @escaping (Result<Int, any Error>) -> Void = { _ in }) {
        loop.assertInLoop()
        let archived = archive()
        // Partitions whose stream went on since their snapshot; the others' snapshots still
        // cover every record they have in the segments this compaction drops.
        // (A partition that only let conversations leave memory is due too: its old snapshot
        // would bring them back.)
        let due = core.placement.ownedPartitions.filter { streams.needsSnapshot($0) }.map { partition in
            (partition: partition, mark: streams.mark(partition),
             conversations: core.conversationsInMemory(partition: partition).sorted { $0.id < $1.id })
        }
        let (transcripts, retention, attachments, directory) = (self.transcripts, transcriptRetentionDays, self.attachments, logDirectory)
        let box = UncheckedBox((node: self, reply: reply))
        let loop = self.loop
        log.compact(install: {
            for entry in due {
                try PartitionSnapshots.write(directory: directory, partition: entry.partition, covers: entry.mark.number) { (emit) throws(StorageError) in
                    for conversation in entry.conversations {
                        for record in Partition.records(rebuilding: conversation) { try emit(record) }
                    }
                }
            }
        }, beforeDropping: {
            attachments.delete(transcripts.purge(retentionDays: retention, now: Date()).attachmentIDs)
        }, completion: { result in
            loop.execute {
                let (node, reply) = box.value
                if case .success = result {
                    for entry in due { node.streams.snapshotted(entry.partition, upTo: entry.mark.number, evictions: entry.mark.evictions) }
                }
                reply(result.map { archived })
            }
        })
    }


    func scheduleCompaction(every interval: UInt64) {
        compactionTimer = loop.scheduleTimer(at: loop.now + interval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.compact()
            self.scheduleCompaction(every: interval)
        }
    }

    func scheduleArchiving(every interval: UInt64) {
        archiveTimer = loop.scheduleTimer(at: loop.now + interval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.archive()
            self.scheduleArchiving(every: interval)
        }
    }

    func schedulePositions() {
        positionsTimer = loop.scheduleTimer(at: loop.now + positionInterval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.step { core, _, effects in core.refreshQueuePositions(into: &effects) }
            self.schedulePositions()
        }
    }
}
