import Wire

/// Slows down password guessing at the login: after a few wrong passwords for one account
/// from one address, or many from one address for any accounts, further attempts from
/// there are refused (without checking the password) for a delay that doubles with each
/// further failure, up to a ceiling. A right password clears that account's count.
/// Pure: time (monotonic ns) is passed in.
///
/// The account is counted per address, not alone: a lock on the account itself would let
/// anyone keep an operator out with a wrong password every few minutes. The figures follow
/// OWASP's authentication guidance (a handful of free attempts, then an increasing delay
/// rather than a lock) and NIST SP 800-63B 5.2.2 (at most 100 consecutive failures).
public struct LoginThrottle: Sendable {
    /// The rules.
    public struct Policy: Sendable, Equatable {
        /// Failures allowed for one account from one address before the delays start.
        public var accountFailures = 5
        /// Failures allowed from one address (many accounts) before the delays start.
        public var addressFailures = 20
        /// The first delay; each further failure doubles it.
        public var firstDelay = Nanoseconds.seconds(1)
        /// The longest delay.
        public var maxDelay = Nanoseconds.seconds(15 * 60)
        /// A key with no failure for this long is forgotten.
        public var forgetAfter = Nanoseconds.seconds(60 * 60)
        /// Most keys remembered (the oldest go first), so a flood of names cannot grow memory.
        public var maxKeys = 10_000
        /// The defaults.
        public init() {}
    }

    private struct Record: Sendable {
        var failures = 0
        var lockedUntil: UInt64 = 0
        var lastFailure: UInt64 = 0
    }

    /// The rules in force.
    public let policy: Policy
    private var records: [String: Record] = [:]

    /// A throttle that remembers nothing yet.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Nil when an attempt for `account` from `address` may be checked now; otherwise the
    /// nanoseconds until it may.
    public func wait(account: String, address: String, now: UInt64) -> UInt64? {
        let until = [Self.accountKey(account, address), Self.addressKey(address)].compactMap { records[$0]?.lockedUntil }.max() ?? 0
        return until > now ? until - now : nil
    }

    /// Counts a wrong password.
    public mutating func failed(account: String, address: String, now: UInt64) {
        count(Self.accountKey(account, address), free: policy.accountFailures, now: now)
        count(Self.addressKey(address), free: policy.addressFailures, now: now)
        if records.count > policy.maxKeys { prune(now: now) }
    }

    /// A right password: the account starts afresh from that address (the address keeps its
    /// count, so one known password does not buy unlimited guesses at other accounts).
    public mutating func succeeded(account: String, address: String) {
        records[Self.accountKey(account, address)] = nil
    }

    /// Keys remembered now.
    public var rememberedKeys: Int { records.count }

    private mutating func count(_ key: String, free: Int, now: UInt64) {
        var record = records[key] ?? Record()
        if record.failures > 0 && now &- record.lastFailure >= policy.forgetAfter { record = Record() }
        record.failures += 1
        record.lastFailure = now
        if record.failures >= free {
            let doublings = min(record.failures - free, 40)
            let delay = doublings >= 30 ? policy.maxDelay : min(policy.maxDelay, policy.firstDelay << UInt64(doublings))
            record.lockedUntil = now + delay
        }
        records[key] = record
    }

    /// Forgets old keys, down to nine tenths of `maxKeys` (so the sort is not paid on every
    /// failure). Keys locked now go last: a flood of new names must not reset a lock.
    private mutating func prune(now: UInt64) {
        records = records.filter { now &- $0.value.lastFailure < policy.forgetAfter || $0.value.lockedUntil > now }
        let target = policy.maxKeys * 9 / 10
        guard records.count > target else { return }
        let order = records.sorted { ($0.value.lockedUntil > now ? 1 : 0, $0.value.lastFailure) < ($1.value.lockedUntil > now ? 1 : 0, $1.value.lastFailure) }
        for (key, _) in order.prefix(records.count - target) { records[key] = nil }
    }

    private static func accountKey(_ account: String, _ address: String) -> String { "account:" + address + " " + account }
    private static func addressKey(_ address: String) -> String { "address:" + address }
}
