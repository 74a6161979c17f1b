/// Who sent a forwarded command, from the token the gateway verified.
public struct Principal: Equatable, Sendable {
    /// Roles as the `command` message encodes them.
    public enum Role: UInt8, Sendable {
        case visitor = 1
        case `operator` = 2
        case admin = 3
    }

    /// The site of the token.
    public var site: String
    /// The bearer's role.
    public var role: Role
    /// The visitor or operator id within the site.
    public var id: String
    /// Verified facts from the token (a shop's signed identity: name, email, customerId, order).
    public var attributes: [String: String]

    /// A principal.
    public init(site: String, role: Role, id: String, attributes: [String: String] = [:]) {
        (self.site, self.role, self.id, self.attributes) = (site, role, id, attributes)
    }
}
