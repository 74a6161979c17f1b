@testable import Router
import Testing
import Wire

@Suite struct OperatorSummaryCodecTests {
    static let sample: OperatorSummary = {
        var summary = OperatorSummary(profile: OperatorProfile(id: "shop/anna", site: "shop", displayName: "Anna Ayşe", skills: ["sales": 5, "billing": 2], maxChats: 3),
                                      available: true, online: true, load: 1, idleSince: 1_764_600_000_000_000_000)
        (summary.epoch, summary.version, summary.status, summary.consoles) = (1_764_500_000_000_000_000, 42, .online, 2)
        return summary
    }()

    @Test func aSummary_roundTrips() throws {
        #expect(try OperatorSummaryCodec.decode(OperatorSummaryCodec.encode(Self.sample)) == Self.sample)
        var away = Self.sample
        (away.status, away.available, away.online, away.consoles) = (.away, false, false, 0)
        #expect(try OperatorSummaryCodec.decode(OperatorSummaryCodec.encode(away)) == away)
    }

    @Test func aCutOrPaddedOrCorruptSummary_isRefused() {
        let bytes = OperatorSummaryCodec.encode(Self.sample)
        for cut in 0..<bytes.count {
            #expect(throws: WireError.self) { try OperatorSummaryCodec.decode(Array(bytes.prefix(cut))) }
        }
        #expect(throws: WireError.self) { try OperatorSummaryCodec.decode(bytes + [0]) }
        var wrongVersion = bytes
        wrongVersion[0] = 9
        #expect(throws: WireError.self) { try OperatorSummaryCodec.decode(wrongVersion) }
    }
}
