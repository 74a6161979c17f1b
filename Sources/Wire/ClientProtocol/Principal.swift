/// Who sent a forwarded command, from the token the gateway verified.
public struct Principal: Equatable, Sendable {
    /// Roles as the `clientCommand` body encodes them.
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

    /// The body of a `clientCommand` frame: the principal, then the client's JSON (docs/wire.md).
    public static func encode(_ principal: Principal, command json: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: json.count + 64)
        writer.writeString(principal.site)
        writer.writeUInt8(principal.role.rawValue)
        writer.writeString(principal.id)
        writer.writeVarint(UInt64(principal.attributes.count))
        for (key, value) in principal.attributes.sorted(by: { $0.key < $1.key }) {
            writer.writeString(key)
            writer.writeString(value)
        }
        writer.writeBytes(json)
        return writer.bytes
    }

    /// Reads a `clientCommand` body.
    public static func decode(_ body: [UInt8]) throws(WireError) -> (Principal, [UInt8]) {
        let result = body.withUnsafeBytes { raw in
            Result { () throws(WireError) -> (Principal, [UInt8]) in
                var reader = ByteReader(raw)
                let site = try reader.readString()
                guard let role = Role(rawValue: try reader.readUInt8()) else { throw .invalidField("principal role") }
                let id = try reader.readString()
                let count = try reader.readVarint()
                guard count <= 16 else { throw .invalidField("principal attributes") }
                var attributes: [String: String] = [:]
                for _ in 0..<count {
                    let key = try reader.readString()
                    attributes[key] = try reader.readString()
                }
                let json = try reader.readBytes()
                guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
                return (Principal(site: site, role: role, id: id, attributes: attributes), json)
            }
        }
        return try result.get()
    }
}

