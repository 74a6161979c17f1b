/// Which partition owns what, from names alone: the same answers on every router and
/// gateway, so a gateway can send a command straight to the router that owns it (the
/// committed table says who owns each partition). `Router.Placement` answers with these.
///
/// - A conversation id names its partition (`p<partition>-<random hex>`); ids minted before
///   ids carried a partition (`c<hex>`) are placed by their stable hash.
/// - A visitor's new chats and tracking go to the partition of hash(site, visitor).
/// - An operator's home (`<site>/<operator>`) lives with the partition of hash(operator).
/// - A site's canned responses live with the partition of hash(site).
public enum PartitionKeys {
    public static func partition(ofConversation raw: String, count: Int) -> Int {
        precondition(count > 0, "partition count must be positive")
        if let named = namedPartition(raw), named < count { return named }
        return Int(StableHash.hash(raw) % UInt64(count))
    }

    public static func partition(ofVisitor visitor: String, site: String, count: Int) -> Int {
        Int(StableHash.hash(site + "\u{1F}" + visitor) % UInt64(count))
    }

    /// `op` as the router names operators: `<site>/<operator>`.
    public static func homePartition(ofOperator op: String, count: Int) -> Int {
        Int(StableHash.hash("operator\u{1F}" + op) % UInt64(count))
    }

    public static func partition(ofSite site: String, count: Int) -> Int {
        Int(StableHash.hash("site\u{1F}" + site) % UInt64(count))
    }

    /// The partition a `p<n>-…` id names, or nil for any other id.
    static func namedPartition(_ raw: String) -> Int? {
        var bytes = raw.utf8.makeIterator()
        guard bytes.next() == UInt8(ascii: "p") else { return nil }
        var value = 0
        var digits = 0
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "-") { return digits > 0 && bytes.next() != nil ? value : nil }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 6 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return nil
    }
}
