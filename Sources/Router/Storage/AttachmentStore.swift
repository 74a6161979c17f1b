import Wire
import Foundation
import Glibc

/// The bytes of files sent in chats, one file per attachment under `attachments/` in the
/// data directory, named by a random id. A file is durable (data and directory entry
/// synced) before the conversation's log records it, so an acknowledged attachment always
/// has its bytes. Who may read one is decided by the caller from the conversation.
/// Immutable apart from the files: the log writer deletes expired ones from its thread.
public final class AttachmentStore: Sendable {
    private let directory: String

    /// Opens (creating) `directory`.
    public init(directory: String) throws(StorageError) {
        self.directory = directory
        try DurableFile.makeDirectory(directory)
    }

    /// Stores `bytes` durably and returns their new id (32 hex digits).
    public func put(_ bytes: [UInt8]) throws(StorageError) -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
        try DurableFile.replace(path(id), with: bytes)
        return id
    }

    /// The bytes stored under `id`, or nil when there are none (or `id` is not an id).
    public func get(_ id: String) -> [UInt8]? {
        guard Self.isID(id) else { return nil }
        return try? DurableFile.read(path(id))
    }

    /// Deletes the files of these ids (their conversation's transcript expired).
    public func delete(_ ids: [String]) {
        for id in ids where Self.isID(id) { unlink(path(id)) }
    }

    /// Ids are made here: exactly 32 lowercase hex digits, so no path can be smuggled in.
    static func isID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private func path(_ id: String) -> String { directory + "/" + id }
}

extension String {
    /// The string with `0`s in front up to `width` characters.
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
