/// Who is on a site right now and what they are doing: current page, pages seen this
/// session, cart. Live state only (it is not logged): it describes the present, and a
/// restarted router learns it again from the next page views. Pure: time is passed in.
public struct VisitorTracker: Sendable {
    /// One visitor's live state.
    public struct Visitor: Sendable, Equatable {
        /// Their id.
        public var id: VisitorID
        /// Open widget sessions.
        public var sessions: Set<UInt64> = []
        /// Pages seen, oldest first, at most `maxPages`: (url, title, time).
        public var pages: [Page] = []
        /// Cart value and item count, if the shop reported one.
        public var cart: (value: Double, items: Int)?
        /// When they were last heard from.
        public var lastSeen: Instant

        public static func == (lhs: Visitor, rhs: Visitor) -> Bool {
            lhs.id == rhs.id && lhs.sessions == rhs.sessions && lhs.pages == rhs.pages && lhs.cart?.value == rhs.cart?.value
                && lhs.cart?.items == rhs.cart?.items && lhs.lastSeen == rhs.lastSeen
        }
    }

    /// A page view.
    public struct Page: Sendable, Equatable {
        public var url: String
        public var title: String?
        public var time: Instant
    }

    /// Pages kept per visitor.
    public static let maxPages = 50
    /// Visitors without a session are forgotten after this long (default 30 min).
    public let forgetAfter: UInt64
    private var visitors: [SiteID: [VisitorID: Visitor]] = [:]
    private var visitorOfSession: [UInt64: (SiteID, VisitorID)] = [:]
    private var lastForget: Instant = 0

    /// An empty tracker.
    public init(forgetAfter: UInt64 = Nanos.seconds(1800)) {
        self.forgetAfter = forgetAfter
    }

    /// A page view from one of the visitor's sessions.
    public mutating func pageView(site: SiteID, visitor: VisitorID, session: UInt64, url: String, title: String?, now: Instant) {
        update(site, visitor, session, now) { visitor in
            visitor.pages.append(Page(url: url, title: title, time: now))
            if visitor.pages.count > Self.maxPages { visitor.pages.removeFirst(visitor.pages.count - Self.maxPages) }
        }
    }

    /// The shop reported the visitor's cart.
    public mutating func cart(site: SiteID, visitor: VisitorID, session: UInt64, value: Double, items: Int, now: Instant) {
        update(site, visitor, session, now) { $0.cart = (value, items) }
    }

    /// A widget session closed.
    public mutating func sessionClosed(_ session: UInt64, now: Instant) {
        // The session's own visitor, by index: closing a session used to scan every visitor
        // of every site.
        if let (site, id) = visitorOfSession.removeValue(forKey: session), visitors[site]?[id] != nil {
            visitors[site]![id]!.sessions.remove(session)
            visitors[site]![id]!.lastSeen = now
        }
        forgetGone(now: now)
    }

    /// Visitors remembered now (gone ones are forgotten within a minute of `forgetAfter`).
    public var count: Int { visitors.values.reduce(0) { $0 + $1.count } }

    /// Drops visitors gone for `forgetAfter`, at most once a minute: without it the
    /// tracker kept every visitor ever seen until an operator listed the visitors.
    private mutating func forgetGone(now: Instant) {
        guard now &- lastForget >= Nanos.seconds(60) else { return }
        lastForget = now
        for site in visitors.keys {
            visitors[site] = visitors[site]?.filter { !$0.value.sessions.isEmpty || now &- $0.value.lastSeen < forgetAfter }
        }
    }

    /// The site's visitors, online ones first, most recent first; visitors gone longer than
    /// `forgetAfter` are dropped.
    public mutating func visitors(of site: SiteID, now: Instant) -> [Visitor] {
        visitors[site] = visitors[site]?.filter { !$0.value.sessions.isEmpty || now &- $0.value.lastSeen < forgetAfter }
        return (visitors[site] ?? [:]).values.sorted(by: Self.listedFirst)
    }

    /// The order of a visitor list: online first, then most recently seen, then by id.
    public static func listedFirst(_ a: Visitor, _ b: Visitor) -> Bool {
        (a.sessions.isEmpty ? 1 : 0, UInt64.max - a.lastSeen, a.id.raw) < (b.sessions.isEmpty ? 1 : 0, UInt64.max - b.lastSeen, b.id.raw)
    }

    private mutating func update(_ site: SiteID, _ id: VisitorID, _ session: UInt64, _ now: Instant, _ change: (inout Visitor) -> Void) {
        var visitor = visitors[site]?[id] ?? Visitor(id: id, lastSeen: now)
        visitor.sessions.insert(session)
        visitorOfSession[session] = (site, id)
        visitor.lastSeen = now
        change(&visitor)
        visitors[site, default: [:]][id] = visitor
    }
}

/// Visitor tracking as the partitions own it: each visitor is tracked by the partition their
/// chats go to (`Placement.partition(ofVisitor:site:)`), so the router owning that
/// partition is the one that knows them, and a partition that moves takes its visitors along.
public struct PartitionedVisitorTracker: Sendable {
    private let placement: Placement
    private var trackers: [Int: VisitorTracker] = [:]

    /// Empty trackers for the partitions of `placement`.
    public init(placement: Placement) {
        self.placement = placement
    }

    private func partition(_ site: SiteID, _ visitor: VisitorID) -> Int {
        placement.partition(ofVisitor: visitor, site: site)
    }

    /// A page view from one of the visitor's sessions.
    public mutating func pageView(site: SiteID, visitor: VisitorID, session: UInt64, url: String, title: String?, now: Instant) {
        trackers[partition(site, visitor), default: VisitorTracker()].pageView(site: site, visitor: visitor, session: session, url: url,
                                                                             title: title, now: now)
    }

    /// The shop reported the visitor's cart.
    public mutating func cart(site: SiteID, visitor: VisitorID, session: UInt64, value: Double, items: Int, now: Instant) {
        trackers[partition(site, visitor), default: VisitorTracker()].cart(site: site, visitor: visitor, session: session, value: value,
                                                                         items: items, now: now)
    }

    /// One of the visitor's widget sessions closed.
    public mutating func sessionClosed(_ session: UInt64, site: SiteID, visitor: VisitorID, now: Instant) {
        trackers[partition(site, visitor)]?.sessionClosed(session, now: now)
    }

    /// The site's visitors across the partitions here, in `VisitorTracker.listedFirst` order.
    public mutating func visitors(of site: SiteID, now: Instant) -> [VisitorTracker.Visitor] {
        var all: [VisitorTracker.Visitor] = []
        for key in trackers.keys.sorted() { all += trackers[key]!.visitors(of: site, now: now) }
        return all.sorted(by: VisitorTracker.listedFirst)
    }
}
