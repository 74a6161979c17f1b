import Foundation
import Wire

/// Canned responses: short texts an operator inserts by typing `/shortcut`. Each site has
/// its own (managed by admins) and each operator their own; an operator's personal one
/// wins over the site's of the same shortcut. Pure value; `CannedStore` keeps it on disk.
public struct CannedResponses: Sendable, Equatable {
    /// One response.
    public struct Entry: Sendable, Equatable {
        /// The site it belongs to.
        public var site: SiteID
        /// The operator's local id for a personal response; nil for the site's.
        public var owner: String?
        /// What follows `/` in the console.
        public var shortcut: String
        /// The text inserted; `{visitor}` and `{operator}` are filled in by the console.
        public var text: String
        /// A response.
        public init(site: SiteID, owner: String?, shortcut: String, text: String) {
            (self.site, self.owner, self.shortcut, self.text) = (site, owner, shortcut, text)
        }
    }

    /// Most responses a site may hold, all owners together (a bound on the file's size).
    public static let maxPerSite = 1000
    private(set) var entries: [Entry] = []

    /// No responses.
    public init() {}

    /// The responses `operator` may use on `site`: their own, then the site's that they do
    /// not override, each list by shortcut.
    public func visible(site: SiteID, operator op: String) -> [Entry] {
        let personal = entries.filter { $0.site == site && $0.owner == op }
        let mine = Set(personal.map(\.shortcut))
        let shared = entries.filter { $0.site == site && $0.owner == nil && !mine.contains($0.shortcut) }
        return personal.sorted { $0.shortcut < $1.shortcut } + shared.sorted { $0.shortcut < $1.shortcut }
    }

    /// Adds or replaces a response.
    public mutating func save(_ entry: Entry) throws(RouterError) {
        if let index = entries.firstIndex(where: { $0.site == entry.site && $0.owner == entry.owner && $0.shortcut == entry.shortcut }) {
            entries[index] = entry
            return
        }
        guard entries.count(where: { $0.site == entry.site }) < Self.maxPerSite else {
            throw .invalidMessage("a site may hold at most \(Self.maxPerSite) canned responses")
        }
        entries.append(entry)
    }

    /// Removes a response; false when there was none.
    public mutating func delete(site: SiteID, owner: String?, shortcut: String) -> Bool {
        let before = entries.count
        entries.removeAll { $0.site == site && $0.owner == owner && $0.shortcut == shortcut }
        return entries.count < before
    }

    /// The whole set as JSON (the file's format: `{"version":1,"entries":[…]}`).
    public func encoded() -> [UInt8] {
        JSONText.serialize(["version": 1, "entries": entries.map { entry -> [String: Any] in
            var object: [String: Any] = ["site": entry.site.raw, "shortcut": entry.shortcut, "text": entry.text]
            object["owner"] = entry.owner
            return object
        }])
    }

    /// Reads what `encoded()` wrote; nil if it is not that.
    public static func decode(_ bytes: [UInt8]) -> CannedResponses? {
        guard let root = JSONParser.parse(bytes) as? [String: Any], root["version"] as? Int == 1,
              let list = root["entries"] as? [[String: Any]] else { return nil }
        var responses = CannedResponses()
        for object in list {
            guard let site = object["site"] as? String, let shortcut = object["shortcut"] as? String, let text = object["text"] as? String else {
                return nil
            }
            responses.entries.append(Entry(site: SiteID(site), owner: object["owner"] as? String, shortcut: shortcut, text: text))
        }
        return responses
    }
}

/// `CannedResponses` in one file of the data directory, rewritten atomically on each change
/// (changes are rare: an admin or an operator editing their list).
public final class CannedStore {
    /// What is stored now.
    public private(set) var responses: CannedResponses
    private let path: String

    /// Opens `directory/canned.json` (none yet is an empty set). A damaged file stops the
    /// open with an error naming it, rather than silently losing the site's responses.
    public init(directory: String) throws(StorageError) {
        path = directory + "/canned.json"
        guard FileManager.default.fileExists(atPath: path) else {
            responses = CannedResponses()
            return
        }
        guard let decoded = CannedResponses.decode(try DurableFile.read(path)) else {
            throw .damagedFile(path: path, reason: "it is not a canned-responses file of version 1 (valid JSON, each key once); fix or remove it")
        }
        responses = decoded
    }

    /// Applies `change` and makes the result durable; on failure nothing changes.
    public func update(_ change: (inout CannedResponses) throws(RouterError) -> Void) throws(RouterError) {
        var next = responses
        try change(&next)
        do {
            try DurableFile.replace(path, with: next.encoded())
        } catch {
            throw .storageFailed("\(error)")
        }
        responses = next
    }
}
