import Presence
import Testing

@Suite struct PartitionMapTests {
    let routers = (1...5).map { "router-\($0)" }

    @Test func everyNode_computesTheSameMap_whateverTheOrderItLearnedMembersIn() {
        let a = PartitionMap(partitionCount: 1024, replicas: 2, nodes: routers)
        let b = PartitionMap(partitionCount: 1024, replicas: 2, nodes: routers.reversed())
        #expect(a == b)
    }

    @Test func ownership_isBalanced_andReplicasAreDistinctNodes() {
        let map = PartitionMap(partitionCount: 1024, replicas: 3, nodes: routers)
        let counts = routers.map { map.owned(by: $0).count }
        // 1024 / 5 ≈ 205 each; rendezvous hashing stays within ±25 % here.
        #expect(counts.allSatisfy { (154...256).contains($0) }, "\(counts)")
        #expect((0..<1024).allSatisfy { Set(map.holders(of: $0)).count == 3 })
    }

    @Test func aLeavingNode_movesOnlyItsOwnPartitions_toTheirFirstReplica() {
        let before = PartitionMap(partitionCount: 1024, replicas: 2, nodes: routers)
        let after = PartitionMap(partitionCount: 1024, replicas: 2, nodes: routers.filter { $0 != "router-3" })
        let moved = before.moves(to: after)
        #expect(Set(moved) == Set(before.owned(by: "router-3")))
        #expect(moved.allSatisfy { after.owner(of: $0) == before.holders(of: $0)[1] }, "the replica takes over")
        // And when it comes back, it gets exactly those partitions back.
        #expect(after.moves(to: before) == moved)
    }

    @Test func noRouters_meansNoOwner() {
        #expect(PartitionMap(partitionCount: 4, replicas: 2, nodes: []).owner(of: 0) == nil)
    }
}
