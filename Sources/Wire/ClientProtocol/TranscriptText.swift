import Foundation

/// Renders a transcript (the router's JSON) as plain text for people: one line per event.
/// Used for the admin's `.txt` download and the e-mailed transcript.
public enum TranscriptText {
    /// The transcript object (`conversation`, `department`, `state`, `events`) as text.
    public static func plainText(_ transcript: [String: Any]) -> String {
        var lines = ["Conversation \(transcript["conversation"] as? String ?? "?") (\(transcript["department"] as? String ?? "?"), \(transcript["state"] as? String ?? "?"))"]
        let formatter = ISO8601DateFormatter()
        for event in transcript["events"] as? [[String: Any]] ?? [] {
            let time = (event["time"] as? Int).map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "?"
            let author = event["author"] as? [String: Any] ?? [:]
            let who = switch author["kind"] as? String {
            case "visitor": "Visitor"
            case "operator": author["name"] as? String ?? author["id"] as? String ?? "Operator"
            default: "—"
            }
            let text = event["type"] as? String == "attachment" ? "[file] \(event["text"] as? String ?? "")" : event["text"] as? String ?? ""
            lines.append("[\(time)] #\(event["sequence"] as? Int ?? 0) \(who): \(text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
