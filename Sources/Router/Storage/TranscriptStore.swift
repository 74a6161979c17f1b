import Foundation
import Glibc
import Synchronization
import Wire

/// Conversations that are over, kept for the site's retention period: one file per UTC day
/// (`<yyyymmdd>.log`, framed like the log). Each conversation is one framed record whose
/// body is the framed records that rebuild it, so a store cut short by a crash loses whole
/// conversations, never half of one. Thread-safe: the log writer stores, anyone reads.
public final class TranscriptStore: Sendable {
    /// The directory.
    public let directory: String
    /// Where each stored conversation is: its day file.
    private let index = Mutex<[ConversationID: String]>([:])

    /// Opens (creating if needed) the store and indexes what it holds.
    public init(directory: String) throws(StorageError) {
        self.directory = directory
        try DurableFile.makeDirectory(directory)
        var found: [ConversationID: String] = [:]
        for file in dayFiles() {
            let path = directory + "/" + file
            let (records, tornAt) = try Self.records(in: path)
            // A store cut short by a crash was never acknowledged: cut it off, so the next
            // store does not land behind unreadable bytes.
            if let tornAt { try DurableFile.truncate(path, to: tornAt) }
            for case .started(let started) in records { found[started.id] = file }
        }
        index.withLock { $0 = found }
    }

    /// The day file name for `date` (UTC).
    public static func dayFile(for date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d%02d%02d.log", parts.year!, parts.month!, parts.day!)
    }

    /// Stores conversations in the file of `date` and makes them durable.
    public func store(_ conversations: [Conversation], on date: Date) throws(StorageError) {
        guard !conversations.isEmpty else { return }
        let file = Self.dayFile(for: date)
        var writer = ByteWriter(capacity: 4096)
        for conversation in conversations {
            var inner = ByteWriter(capacity: 1024)
            for record in Partition.records(rebuilding: conversation) {
                let (type, body) = PartitionRecordCodec.encode(record, partition: 0)
                LogFraming.append(type: type, body: body, to: &inner)
            }
            LogFraming.append(type: Self.conversationRecord, body: inner.bytes, to: &writer)
        }
        let path = directory + "/" + file
        let (fd, created) = try DurableFile.openForAppend(path)
        defer { Glibc.close(fd) }
        try DurableFile.writeAll(fd, writer.bytes, path: path)
        try DurableFile.syncData(fd, path: path)
        if created { DurableFile.syncDirectory(directory) }
        index.withLock { index in for conversation in conversations { index[conversation.id] = file } }
    }

    /// A stored conversation, or nil.
    public func transcript(_ id: ConversationID) throws(StorageError) -> Conversation? {
        guard let file = index.withLock({ $0[id] }) else { return nil }
        var partition = Partition(index: 0, sites: [:])
        for record in try Self.records(in: directory + "/" + file).records where record.conversationID == id { partition.apply(record) }
        return partition.conversations[id]
    }

    /// How many conversations are stored.
    public var count: Int { index.withLock { $0.count } }

    /// What `purge` removed.
    public struct Purged: Equatable, Sendable {
        /// The day files deleted.
        public var files: [String]
        /// The attachments their conversations referred to (now to be deleted too).
        public var attachmentIDs: [String]
    }

    /// Deletes the day files older than `retentionDays` before `date`, and says which files
    /// went and which attachments belonged to their conversations.
    @discardableResult
    public func purge(retentionDays: Int, now date: Date) -> Purged {
        let cutoff = Self.dayFile(for: date.addingTimeInterval(-Double(retentionDays) * 86_400))
        let expired = dayFiles().filter { $0 < cutoff }
        var attachmentIDs: [String] = []
        for file in expired {
            // A damaged day file still goes; its attachments are then left behind (logged by
            // nobody, harmless: they are only ever served through a conversation).
            for case .event(_, let event, _) in (try? Self.records(in: directory + "/" + file).records) ?? [] {
                if case .attachment(let attachment) = event.kind { attachmentIDs.append(attachment.id) }
            }
            unlink(directory + "/" + file)
        }
        index.withLock { index in index = index.filter { !expired.contains($0.value) } }
        return Purged(files: expired, attachmentIDs: attachmentIDs)
    }

    /// Type byte of the outer record holding one conversation.
    private static let conversationRecord: UInt8 = 100

    private func dayFiles() -> [String] {
        (try? DurableFile.files(in: directory, suffix: ".log")) ?? []
    }

    /// The records of a day file, and where a store cut short by a crash begins, if any.
    private static func records(in path: String) throws(StorageError) -> (records: [PartitionRecord], tornAt: Int?) {
        let bytes = try DurableFile.read(path)
        let (framed, stop) = bytes.withUnsafeBytes { LogFraming.scan($0) }
        var tornAt: Int?
        switch stop {
        case .corrupt(let offset, let reason): throw .corrupt(segment: (path as NSString).lastPathComponent, offset: offset, reason: reason)
        case .torn(let offset): tornAt = offset
        case .end: break
        }
        var records: [PartitionRecord] = []
        for outer in framed {
            let (inner, innerStop) = outer.body.withUnsafeBytes { LogFraming.scan($0) }
            guard outer.type == conversationRecord, innerStop == .end else {
                throw .undecodable(segment: (path as NSString).lastPathComponent, offset: outer.offset, reason: "not a stored conversation")
            }
            for record in inner {
                do {
                    records.append(try PartitionRecordCodec.decode(type: record.type, body: record.body).record)
                } catch {
                    throw .undecodable(segment: (path as NSString).lastPathComponent, offset: outer.offset, reason: error.message)
                }
            }
        }
        return (records, tornAt)
    }
}

extension PartitionRecord {
    /// The conversation a record belongs to.
    public var conversationID: ConversationID {
        switch self {
        case .started(let started): started.id
        case .event(let id, _, _), .declined(let id, _), .rated(let id, _): id
        case .state(let change): change.id
        }
    }
}
