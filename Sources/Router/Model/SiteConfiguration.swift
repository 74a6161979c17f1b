/// A site as the router knows it: routing rules, departments, operators. Every router of a
/// cluster is configured with the same sites.
public struct SiteConfiguration: Sendable, Equatable {
    /// The site id.
    public var id: SiteID
    /// Its departments (each one a skill).
    public var departments: Set<Skill>
    /// Its operators.
    public var operators: [OperatorProfile]
    /// Its routing rules.
    public var settings: RoutingSettings

    /// A site.
    public init(id: SiteID, departments: Set<Skill>, operators: [OperatorProfile], settings: RoutingSettings = RoutingSettings()) {
        self.id = id
        self.departments = departments
        self.operators = operators
        self.settings = settings
    }
}
