import Foundation
import Glibc
import Synchronization
import Wire

/// Conversations that are over, kept for the site's retention period: one file per UTC day
/// (`<yyyymmdd>.log`, framed like the log). Each conversation is one framed record whose
/// body is the framed records that rebuild it, so a store cut short by a crash loses whole
/// conversations, never half of one. Thread-safe: the log writer stores, anyone reads.
public final class TranscriptStore: Sendable {
    /// Where a stored conversation is: its day file and the byte its record starts at, so
    /// reading one transcript reads one record, not the day's file.
    private struct Place: Sendable {
        var file: String
        var offset: Int
    }

    /// The directory.
    public let directory: String
    private let index = Mutex<[ConversationID: Place]>([:])

    /// Opens (creating if needed) the store and indexes what it holds. A damaged day file
    /// stops the open, naming it; with `repair` it is cut at the damage instead (the
    /// conversations from there on are lost; a file of another format is never cut).
    public init(directory: String, repair: Bool = false) throws(StorageError) {
        self.directory = directory
        try DurableFile.makeDirectory(directory)
        var found: [ConversationID: Place] = [:]
        for file in dayFiles() {
            let path = directory + "/" + file
            let stored: [(ConversationID, Int)], tornAt: Int?
            do {
                (stored, tornAt) = try Self.conversations(in: path)
            } catch {
                // Damage at byte 0 is a file of another format (records start after the
                // header): never cut.
                guard repair, case .corrupt(_, let offset, _) = error, offset > 0 else { throw error }
                try DurableFile.truncate(path, to: offset)
                (stored, tornAt) = try Self.conversations(in: path)
            }
            // A store cut short by a crash was never acknowledged: cut it off, so the next
            // store does not land behind unreadable bytes.
            if let tornAt { try DurableFile.truncate(path, to: tornAt) }
            for (id, offset) in stored { found[id] = Place(file: file, offset: offset) }
        }
        index.withLock { $0 = found }
    }

    /// Whether a conversation is stored.
    public func contains(_ id: ConversationID) -> Bool { index.withLock { $0[id] != nil } }

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
        var offsets: [Int] = []
        for conversation in conversations {
            var inner = ByteWriter(capacity: 1024)
            for record in Partition.records(rebuilding: conversation) {
                let (type, body) = PartitionRecordCodec.encode(record, partition: 0)
                LogFraming.append(type: type, body: body, to: &inner)
            }
            offsets.append(writer.count)
            LogFraming.append(type: Self.conversationRecord, body: inner.bytes, to: &writer)
        }
        let path = directory + "/" + file
        let (fd, size, created) = try DurableFile.openLogFile(path, header: LogFraming.fileHeader)
        defer { Glibc.close(fd) }
        try DurableFile.writeAll(fd, writer.bytes, path: path)
        try DurableFile.syncData(fd, path: path)
        if created { DurableFile.syncDirectory(directory) }
        index.withLock { index in
            for (conversation, offset) in zip(conversations, offsets) { index[conversation.id] = Place(file: file, offset: size + offset) }
        }
    }

    /// A stored conversation, or nil.
    public func transcript(_ id: ConversationID) throws(StorageError) -> Conversation? {
        guard let place = index.withLock({ $0[id] }) else { return nil }
        let path = directory + "/" + place.file
        let header = try DurableFile.read(path, offset: place.offset, count: LogFraming.headerSize)
        guard header.count == LogFraming.headerSize else {
            throw .corrupt(segment: place.file, offset: place.offset, reason: "the file ends inside a stored conversation")
        }
        let length = header.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        let bytes = try DurableFile.read(path, offset: place.offset, count: LogFraming.headerSize + min(length, LogFraming.maxBodySize))
        let (framed, stop) = bytes.withUnsafeBytes { LogFraming.scan($0) }
        guard stop == .end, framed.count == 1, let outer = framed.first else {
            throw .corrupt(segment: place.file, offset: place.offset, reason: "the stored conversation is damaged")
        }
        var partition = Partition(index: 0, sites: [:])
        for record in try Self.decode(outer, file: place.file) where record.conversationID == id { partition.apply(record) }
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
            for case .event(_, let event, _) in (try? Self.records(in: directory + "/" + file)) ?? [] {
                if case .attachment(let attachment) = event.kind { attachmentIDs.append(attachment.id) }
            }
            unlink(directory + "/" + file)
        }
        index.withLock { index in index = index.filter { !expired.contains($0.value.file) } }
        return Purged(files: expired, attachmentIDs: attachmentIDs)
    }

    /// Type byte of the outer record holding one conversation.
    private static let conversationRecord: UInt8 = 100

    private func dayFiles() -> [String] {
        (try? DurableFile.files(in: directory, suffix: ".log")) ?? []
    }

    /// The framed conversations of a day file, and where a store cut short by a crash
    /// begins, if any.
    private static func framed(in path: String) throws(StorageError) -> (framed: [LogFraming.Record], tornAt: Int?) {
        let bytes = try DurableFile.read(path)
        let (framed, stop) = bytes.withUnsafeBytes { LogFraming.scanFile($0) }
        switch stop {
        case .corrupt(let offset, let reason): throw .corrupt(segment: (path as NSString).lastPathComponent, offset: offset, reason: reason)
        case .torn(let offset): return (framed, offset)
        case .end: return (framed, nil)
        }
    }

    /// Each stored conversation of a day file with the offset of its record.
    private static func conversations(in path: String) throws(StorageError) -> (stored: [(ConversationID, Int)], tornAt: Int?) {
        let (framed, tornAt) = try framed(in: path)
        var stored: [(ConversationID, Int)] = []
        for outer in framed {
            for case .started(let started) in try decode(outer, file: (path as NSString).lastPathComponent) { stored.append((started.id, outer.offset)) }
        }
        return (stored, tornAt)
    }

    /// Every record of a day file.
    private static func records(in path: String) throws(StorageError) -> [PartitionRecord] {
        var records: [PartitionRecord] = []
        for outer in try framed(in: path).framed { records += try decode(outer, file: (path as NSString).lastPathComponent) }
        return records
    }

    /// The records of one stored conversation.
    private static func decode(_ outer: LogFraming.Record, file: String) throws(StorageError) -> [PartitionRecord] {
        let (inner, innerStop) = outer.body.withUnsafeBytes { LogFraming.scan($0) }
        guard outer.type == conversationRecord, innerStop == .end else {
            throw .undecodable(segment: file, offset: outer.offset, reason: "not a stored conversation")
        }
        var records: [PartitionRecord] = []
        for record in inner {
            do {
                records.append(try PartitionRecordCodec.decode(type: record.type, body: record.body).record)
            } catch {
                throw .undecodable(segment: file, offset: outer.offset, reason: error.message)
            }
        }
        return records
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
