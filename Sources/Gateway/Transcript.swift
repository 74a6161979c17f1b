import Foundation

/// Renders a transcript (the router's JSON) as plain text for people: one line per event.
enum Transcript {
    static func plainText(_ transcript: [String: Any]) -> String {
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
            lines.append("[\(time)] #\(event["sequence"] as? Int ?? 0) \(who): \(event["text"] as? String ?? "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
