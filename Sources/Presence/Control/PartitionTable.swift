/// One partition's entry in the committed table: who owns it, under which epoch, and which
/// routers hold an up-to-date copy. An operator's home lives with partition
/// hash(operator) (`Router.Placement`), so the same entry places homes.
public struct PartitionAssignment: Sendable, Equatable {
    /// The router (node id) that serves the partition; nil until it is first placed.
    public var owner: String?
    /// Grows by one with every change of owner: a router serves the partition only under
    /// the epoch the table gives it, and what carries an older one is refused.
    public var epoch: UInt64
    /// The routers whose copy is complete, the owner first. Ownership only ever moves to one of them.
    public var inSync: [String]

    public init(owner: String?, epoch: UInt64, inSync: [String]) {
        (self.owner, self.epoch, self.inSync) = (owner, epoch, inSync)
    }
}

/// The partition table: what the control plane's Raft group agrees on. Every router
/// applies the same committed changes in the same order, so every copy is the same;
/// `apply` decides each change from the table alone (deterministic), and refuses, changing
/// nothing, a change decided on an older view (its expected epoch is not the current one)
/// or one that breaks a rule.
public struct PartitionTable: Sendable, Equatable {
    public private(set) var partitions: [PartitionAssignment]
    /// How many changes were applied: routers and gateways compare tables by it.
    public private(set) var version: UInt64 = 0

    public init(partitionCount: Int) {
        partitions = Array(repeating: PartitionAssignment(owner: nil, epoch: 0, inSync: []), count: partitionCount)
    }

    /// A table as a snapshot holds it.
    public init(partitions: [PartitionAssignment], version: UInt64) {
        (self.partitions, self.version) = (partitions, version)
    }

    public enum Change: Sendable, Equatable {
        /// Gives `partition` to `owner` with this in-sync set (the owner in it), if its epoch
        /// is still `expectedEpoch`. A new owner raises the epoch by one.
        case assign(partition: Int, owner: String, inSync: [String], expectedEpoch: UInt64)
        /// Takes routers out of `partition`'s in-sync set (never its owner), if its epoch is
        /// still `expectedEpoch`.
        case shrink(partition: Int, remove: [String], expectedEpoch: UInt64)

        public var partition: Int {
            switch self {
            case .assign(let partition, _, _, _), .shrink(let partition, _, _): partition
            }
        }
    }

    public enum Refusal: Error, Equatable, Sendable {
        case unknownPartition(Int)
        /// The change was decided under another epoch (the table moved on meanwhile).
        case staleEpoch(expected: UInt64, current: UInt64)
        /// The new owner's copy is not known to be complete.
        case notInSync(String)
        /// An in-sync set must hold its owner, once each.
        case malformedInSync
        /// The owner cannot be taken out of its own in-sync set.
        case removesOwner
        /// None of the routers to remove is in the set (a change proposed twice).
        case noChange

        public var message: String {
            switch self {
            case .unknownPartition(let partition): "There is no partition \(partition)."
            case .staleEpoch(let expected, let current): "The change was decided at epoch \(expected), but the partition is at epoch \(current) now."
            case .notInSync(let router): "\(router) has no complete copy of the partition, so it cannot own it."
            case .malformedInSync: "An in-sync set must name its owner, and each router once."
            case .removesOwner: "A partition's owner cannot leave its own in-sync set."
            case .noChange: "None of those routers is in the partition's in-sync set."
            }
        }
    }

    /// Applies `change` (nil), or refuses it and changes nothing (the reason). A refused
    /// change still counts as applied for the log (every member refuses it the same way),
    /// but not as a new version.
    @discardableResult
    public mutating func apply(_ change: Change) -> Refusal? {
        let index = change.partition
        guard partitions.indices.contains(index) else { return .unknownPartition(index) }
        var entry = partitions[index]
        switch change {
        case .assign(_, let owner, let inSync, let expected):
            guard expected == entry.epoch else { return .staleEpoch(expected: expected, current: entry.epoch) }
            guard inSync.first == owner, Set(inSync).count == inSync.count else { return .malformedInSync }
            // The first placement has nobody to be in sync with; after that, only a complete copy may own.
            let placed = entry.owner != nil || !entry.inSync.isEmpty
            // No router joins an in-sync set by an assignment: only one that was in sync stays
            // so (a copy is made complete by catching up, never by a vote).
            if placed, let newcomer = inSync.first(where: { !entry.inSync.contains($0) }) { return .notInSync(newcomer) }
            if owner != entry.owner { entry.epoch += 1 }
            entry.owner = owner
            entry.inSync = inSync
        case .shrink(_, let remove, let expected):
            guard expected == entry.epoch else { return .staleEpoch(expected: expected, current: entry.epoch) }
            if let owner = entry.owner, remove.contains(owner) { return .removesOwner }
            guard entry.inSync.contains(where: remove.contains) else { return .noChange }
            entry.inSync.removeAll { remove.contains($0) }
        }
        partitions[index] = entry
        version += 1
        return nil
    }

    /// The partitions `router` owns.
    public func owned(by router: String) -> [Int] {
        partitions.indices.filter { partitions[$0].owner == router }
    }
}
