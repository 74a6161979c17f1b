import Wire

/// An operator's summary in bytes, as a home gossips it to the other routers
/// (`Presence.PresenceGossip` carries it without reading it). Wire's encoding:
/// ```
/// u8 version (1) · string operator · string site · string display name
/// uvarint skill count, each: string skill, u8 level · uvarint max chats
/// u8 status (0 online, 1 away, 2 offline) · u8 available · u8 online · uvarint load
/// uvarint idle since · uvarint epoch · uvarint version · uvarint consoles
/// ```
public enum OperatorSummaryCodec {
    static let version: UInt8 = 1
    static let statuses: [OperatorStatus] = [.online, .away, .offline]

    public static func encode(_ summary: OperatorSummary) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        let profile = summary.profile
        w.writeUInt8(version)
        w.writeString(profile.id.raw)
        w.writeString(profile.site.raw)
        w.writeString(profile.displayName)
        w.writeVarint(UInt64(profile.skills.count))
        for (skill, level) in profile.skills.sorted(by: { $0.key < $1.key }) {
            w.writeString(skill.raw)
            w.writeUInt8(UInt8(level))
        }
        w.writeVarint(UInt64(profile.maxChats))
        w.writeUInt8(UInt8(statuses.firstIndex(of: summary.status)!))
        w.writeUInt8(summary.available ? 1 : 0)
        w.writeUInt8(summary.online ? 1 : 0)
        w.writeVarint(UInt64(summary.load))
        w.writeVarint(summary.idleSince)
        w.writeVarint(summary.epoch)
        w.writeVarint(summary.version)
        w.writeVarint(UInt64(summary.consoles))
        return w.bytes
    }

    /// The summary in `bytes`; every field checked, nothing left over.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> OperatorSummary {
        try ByteReader.decodeAll(bytes, read)
    }

    private static func read(_ r: inout ByteReader) throws(WireError) -> OperatorSummary {
        guard try r.readUInt8() == version else { throw .invalidField("operator summary version") }
        let id = OperatorID(try r.readString()), site = SiteID(try r.readString()), name = try r.readString()
        let skillCount = try r.readVarint()
        guard skillCount <= UInt64(r.remaining / 2) else { throw .invalidField("skill count \(skillCount)") }
        var skills: [Skill: Int] = [:]
        for _ in 0..<skillCount {
            let skill = Skill(try r.readString())
            let level = try r.readUInt8()
            guard (1...5).contains(level) else { throw .invalidField("skill level \(level)") }
            skills[skill] = Int(level)
        }
        let maxChats = try count(&r, "max chats")
        let status = try r.readUInt8()
        guard Int(status) < statuses.count else { throw .invalidField("operator status \(status)") }
        let available = try flag(&r, "available"), online = try flag(&r, "online")
        let load = try count(&r, "load")
        var summary = OperatorSummary(profile: OperatorProfile(id: id, site: site, displayName: name, skills: skills, maxChats: maxChats),
                                      available: available, online: online, load: load, idleSince: try r.readVarint())
        summary.epoch = try r.readVarint()
        summary.version = try r.readVarint()
        summary.consoles = try count(&r, "consoles")
        summary.status = statuses[Int(status)]
        return summary
    }

    private static func flag(_ r: inout ByteReader, _ field: String) throws(WireError) -> Bool {
        switch try r.readUInt8() {
        case 0: return false
        case 1: return true
        default: throw .invalidField(field)
        }
    }

    /// A small count (chats, consoles): anything past a million is not one.
    private static func count(_ r: inout ByteReader, _ field: String) throws(WireError) -> Int {
        let value = try r.readVarint()
        guard value <= 1_000_000 else { throw .invalidField(field) }
        return Int(value)
    }
}
