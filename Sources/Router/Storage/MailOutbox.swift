import Wire
import Foundation

/// Messages waiting for the mail system, as RFC 5322 files (`*.eml`) in `outbox/` of the
/// data directory. Switchboard does not speak SMTP itself: the host's mailer picks them
/// up (docs/operations.md shows a one-line `sendmail -t` loop). A file appears whole
/// (written aside, synced, renamed), so a picker never sees half a message.
public final class MailOutbox {
    /// The outbox directory.
    public let directory: String
    private let sender: String

    /// Opens (creating) `directory`; messages are sent as `sender`.
    public init(directory: String, sender: String = "Switchboard <no-reply@localhost>") throws(StorageError) {
        self.directory = directory
        self.sender = sender
        try DurableFile.makeDirectory(directory)
    }

    /// Queues a plain-text message and returns its file's path.
    @discardableResult
    public func enqueue(to recipient: String, subject: String, body: String, now: Date = Date()) throws(StorageError) -> String {
        let date = Self.dateFormatter.string(from: now)
        // Header values come from checked input, but a line break would start a new header.
        // (Compare characters by `isNewline`: "\r\n" is one Character, neither "\r" nor "\n".)
        let clean = { (value: String) in value.split(whereSeparator: \.isNewline).joined() }
        let text = "From: \(sender)\r\nTo: \(clean(recipient))\r\nSubject: \(clean(subject))\r\nDate: \(date)\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let name = "\(Int64(now.timeIntervalSince1970 * 1000))-\(UInt32.random(in: 0...UInt32.max)).eml"
        let path = directory + "/" + name
        try DurableFile.replace(path, with: Array(text.utf8))
        return path
    }

    private static let dateFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter
    }()
}
