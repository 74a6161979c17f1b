import Presence
import Testing
import Wire

@Suite struct PartitionTableTests {
    static let routers: Set<String> = ["router-1", "router-2", "router-3"]

    static func placed(partitions: Int = 16, replicas: Int = 2) -> PartitionTable {
        var table = PartitionTable(partitionCount: partitions)
        for change in TablePlanner.changes(for: table, alive: routers, replicas: replicas) { _ = table.apply(change) }
        return table
    }

    @Test func theFirstPlacement_followsRendezvousHashing_atEpochOne() {
        let table = Self.placed()
        let map = PartitionMap(partitionCount: 16, replicas: 2, nodes: Array(Self.routers))
        for (index, entry) in table.partitions.enumerated() {
            #expect(entry.owner == map.owner(of: index) && entry.inSync == map.holders(of: index) && entry.epoch == 1)
        }
        #expect(table.version == 16)
        #expect(TablePlanner.changes(for: table, alive: Self.routers, replicas: 2).isEmpty, "nothing more to do while all are alive")
    }

    @Test func aDeadOwner_isReplacedByAnAliveInSyncReplica_underTheNextEpoch() throws {
        var table = Self.placed()
        let lost = try #require(table.partitions[0].owner)
        let alive = Self.routers.subtracting([lost])
        let changes = TablePlanner.changes(for: table, alive: alive, replicas: 2)
        for change in changes {
            let refusal = table.apply(change)
            #expect(refusal == nil)
        }
        for (index, entry) in table.partitions.enumerated() {
            #expect(entry.owner.map(alive.contains) == true && !entry.inSync.contains(lost), "partition \(index)")
        }
        #expect(table.partitions[0].epoch == 2, "a new owner: the next epoch")
        let kept = try #require(table.partitions.firstIndex { $0.owner != lost && $0.epoch == 1 })
        #expect(table.partitions[kept].inSync.count <= 2, "partition \(kept) kept its owner and epoch")
        // The same changes proposed again (a leader that did not see them commit) change nothing.
        let before = table
        for change in changes {
            let refusal = table.apply(change)
            #expect(refusal != nil)
        }
        #expect(table == before)
    }

    @Test func aPartitionWhoseInSyncRoutersAreAllDown_waitsForThem() {
        var table = Self.placed(replicas: 1)
        let owner = table.partitions[3].owner!
        let changes = TablePlanner.changes(for: table, alive: Self.routers.subtracting([owner]), replicas: 1)
        #expect(!changes.contains { $0.partition == 3 }, "nobody else has its acknowledged writes")
        for change in changes { _ = table.apply(change) }
        #expect(table.partitions[3].owner == owner && table.partitions[3].epoch == 1)
    }

    @Test func everyRule_refusesAndChangesNothing() {
        var table = Self.placed()
        let entry = table.partitions[5]
        let outsider = Self.routers.subtracting(entry.inSync).first!
        let before = table
        func refusal(_ change: PartitionTable.Change) -> PartitionTable.Refusal? { table.apply(change) }
        #expect(refusal(.assign(partition: 5, owner: outsider, inSync: [outsider], expectedEpoch: 1)) == (.notInSync(outsider)))
        // Nobody joins an in-sync set by an assignment, neither beside the same owner nor beside a new one.
        #expect(refusal(.assign(partition: 5, owner: entry.owner!, inSync: entry.inSync + [outsider], expectedEpoch: 1)) == (.notInSync(outsider)))
        #expect(refusal(.assign(partition: 5, owner: entry.inSync[1], inSync: [entry.inSync[1], outsider], expectedEpoch: 1)) == (.notInSync(outsider)))
        #expect(refusal(.assign(partition: 5, owner: entry.inSync[1], inSync: [entry.inSync[1]], expectedEpoch: 0))
                == (.staleEpoch(expected: 0, current: 1)))
        #expect(refusal(.assign(partition: 5, owner: entry.inSync[1], inSync: [entry.inSync[0], entry.inSync[1]], expectedEpoch: 1))
                == (.malformedInSync), "the owner must come first")
        #expect(refusal(.assign(partition: 5, owner: entry.inSync[1], inSync: [entry.inSync[1], entry.inSync[1]], expectedEpoch: 1))
                == (.malformedInSync))
        #expect(refusal(.shrink(partition: 5, remove: [entry.owner!], expectedEpoch: 1)) == (.removesOwner))
        #expect(refusal(.shrink(partition: 5, remove: [outsider], expectedEpoch: 1)) == (.noChange))
        #expect(refusal(.assign(partition: 99, owner: "x", inSync: ["x"], expectedEpoch: 0)) == (.unknownPartition(99)))
        #expect(table == before)
        #expect(PartitionTable.Refusal.notInSync("router-9").message == "router-9 has no complete copy of the partition, so it cannot own it.")
    }

    /// Routers die and come back at random; whatever the leader proposes, epochs only grow,
    /// an owner is always in its in-sync set, ownership moves only to an in-sync router, and
    /// no two owners ever share a (partition, epoch).
    @Test(arguments: [UInt64(1), 2, 3]) func randomFailures_keepTheTablesRules(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let all = (1...5).map { "router-\($0)" }
        var table = PartitionTable(partitionCount: 32)
        var owners: [[UInt64: String]] = Array(repeating: [:], count: 32)
        for _ in 0..<300 {
            let alive = Set(all.filter { _ in Int.random(in: 0..<4, using: &rng) > 0 })
            var changes = TablePlanner.changes(for: table, alive: alive, replicas: 3)
            changes.shuffle(using: &rng)
            // Now and then a stale leader's batch arrives too, decided on an older view.
            if Bool.random(using: &rng) { changes += changes.prefix(3) }
            for change in changes {
                let before = table.partitions[change.partition]
                guard table.apply(change) == nil else { continue }
                let after = table.partitions[change.partition]
                #expect(after.epoch >= before.epoch)
                #expect(after.owner == after.inSync.first)
                if after.owner != before.owner, before.owner != nil {
                    #expect(before.inSync.contains(after.owner!), "ownership moved only to an in-sync router")
                    #expect(after.epoch == before.epoch + 1)
                }
                if let owner = after.owner {
                    #expect(owners[change.partition][after.epoch].map { $0 == owner } ?? true, "one owner per (partition, epoch)")
                    owners[change.partition][after.epoch] = owner
                }
            }
        }
    }

    @Test func changesAndTables_roundTrip_andACutOneIsRefused() throws {
        let table = Self.placed()
        #expect(try PartitionTableCodec.decodeTable(PartitionTableCodec.encode(table)) == table)
        let changes: [PartitionTable.Change] = [.assign(partition: 7, owner: "router-2", inSync: ["router-2", "router-3"], expectedEpoch: 4),
                                                .shrink(partition: 1, remove: ["router-1"], expectedEpoch: 9)]
        for change in changes {
            let bytes = PartitionTableCodec.encode(change)
            #expect(try PartitionTableCodec.decodeChange(bytes) == change)
            for cut in 0..<bytes.count { #expect(throws: WireError.self) { try PartitionTableCodec.decodeChange(Array(bytes.prefix(cut))) } }
            #expect(throws: WireError.self) { try PartitionTableCodec.decodeChange(bytes + [0]) }
        }
        let bytes = PartitionTableCodec.encode(table)
        for cut in stride(from: 0, to: bytes.count, by: 7) { #expect(throws: WireError.self) { try PartitionTableCodec.decodeTable(Array(bytes.prefix(cut))) } }
    }
}
