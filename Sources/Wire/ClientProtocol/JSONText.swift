/// A small JSON writer for the values the server builds (strings, integers, booleans,
/// doubles, nested objects and arrays), with keys sorted by their UTF-8 bytes. Written here
/// because Foundation's JSONSerialization, bridging through NSString and sorting keys with
/// ICU collation, took most of the server's time per chat message.
public enum JSONText {
    /// The JSON text of `value`.
    public static func serialize(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, into: &out)
        return out
    }

    private static func write(_ value: Any, into out: inout [UInt8]) {
        switch value {
        case let string as String:
            append(string: string, to: &out)
        case let bool as Bool:
            out.append(contentsOf: bool ? "true".utf8 : "false".utf8)
        case let int as Int:
            append(integer: Int64(int), to: &out)
        case let int as Int64:
            append(integer: int, to: &out)
        case let int as UInt64:
            out.append(contentsOf: String(int).utf8)
        case let double as Double:
            out += double.isFinite ? Array(String(double).utf8) : Array("null".utf8)
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (index, key) in object.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(string: key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(object[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            out += Array("null".utf8)
        }
    }

    /// A string with the escapes RFC 8259 requires: quote, backslash, control characters.
    static func append(string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
                case 0x0A: out.append(contentsOf: "\\n".utf8)
                case 0x0D: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(contentsOf: "\\u00".utf8)
                    hex.withUTF8Buffer { out.append($0[Int(byte >> 4)]); out.append($0[Int(byte & 0x0F)]) }
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Decimal digits without making a String.
    static func append(integer value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            repeat {
                digits[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }
}

/// Writes one JSON object straight to bytes, fields in the order given (the caller gives
/// them sorted, as `JSONText` sorts them). For the hot events only; everything else goes
/// through `JSONText.serialize`.
struct JSONBytes {
    private(set) var bytes: [UInt8] = []
    /// Whether the next field needs a comma before it.
    private var needsComma = false

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func key(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        JSONText.append(string: name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = true
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        JSONText.append(string: value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: Int64) {
        key(name)
        JSONText.append(integer: value, to: &bytes)
    }
}
