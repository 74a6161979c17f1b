import Foundation
import Gateway
import Router
import Wire

/// The demo site of `routerd dev`: three departments, three operators with different skills.
enum DemoSite {
    static let operators: [(id: String, name: String, skills: [Skill: Int], max: Int, password: String)] = [
        ("anna", "Anna", ["sales": 5, "billing": 2], 3, "anna-demo"),
        ("ben", "Ben", ["sales": 3], 2, "ben-demo"),
        ("carl", "Carl", ["billing": 4, "support": 5], 3, "carl-demo"),
    ]

    /// The demo operator who is also the site's admin.
    static let admin = "anna"

    /// Site-wide canned responses a fresh demo starts with.
    static let cannedResponses: [(shortcut: String, text: String)] = [
        ("hi", "Hello {visitor}, I'm {operator}. How can I help you today?"),
        ("shipping", "Orders leave our warehouse within 24 hours; delivery takes 2-3 working days."),
        ("refund", "You can return any item within 30 days for a full refund: just reply with your order number."),
        ("bye", "Thank you for chatting with us, {visitor}. Have a nice day!"),
    ]

    /// Gives an empty demo store its canned responses (an existing data directory keeps its own).
    static func seedCannedResponses(_ node: RouterNode) throws {
        guard node.canned.responses.visible(site: "shop", operator: admin).isEmpty else { return }
        try node.canned.update { (responses) throws(RouterError) in
            for (shortcut, text) in cannedResponses { try responses.save(.init(site: "shop", owner: nil, shortcut: shortcut, text: text)) }
        }
    }

    static func configuration(loadOperators: Int, loadCapacity: Int = 10) -> SiteConfiguration {
        let demo = operators.map { OperatorProfile(id: OperatorID("shop/\($0.id)"), site: "shop", displayName: $0.name, skills: $0.skills, maxChats: $0.max) }
        let load = (0..<loadOperators).map {
            OperatorProfile(id: OperatorID("shop/load-\($0)"), site: "shop", displayName: "Load \($0)",
                            skills: ["sales": 3, "billing": 3, "support": 3], maxChats: loadCapacity)
        }
        return SiteConfiguration(id: "shop", departments: ["sales", "billing", "support"], operators: demo + load)
    }
}
