import Foundation

/// Renders a transcript as plain text for people: one line per event with its time (UTC)
/// and sequence number. Used for the admin's `.txt` download and the e-mailed transcript.
public enum TranscriptText {
    /// The transcript as text.
    public static func plainText(_ transcript: Transcript) -> String {
        let summary = transcript.summary
        var lines = ["Conversation \(summary.conversation) (\(summary.department), \(summary.state))"]
        let formatter = ISO8601DateFormatter()
        for case .event(_, let sequence, let time, let author, let kind, let text, _) in transcript.events {
            let when = formatter.string(from: Date(timeIntervalSince1970: Double(time) / 1000))
            let who = switch author {
            case .visitor: "Visitor"
            case .operator(let id, let name): name ?? id
            case .system: "—"
            }
            lines.append("[\(when)] #\(sequence) \(who): \(kind == .attachment ? "[file] \(text)" : text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
