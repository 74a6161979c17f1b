import Foundation

/// Why a client's JSON message was refused. Codes are stable and documented in
/// docs/client-protocol.md.
public struct ClientProtocolError: Error, Equatable, Sendable {
    /// The stable code ("bad_json", "unknown_type", "unknown_field", "missing_field",
    /// "invalid_field", "too_large").
    public var code: String
    /// What was wrong, naming the field.
    public var message: String

    /// An error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// Strict reading of one JSON object: every field must be known, present when required,
/// of the right type and within its limits; anything else is a `ClientProtocolError`
/// naming the field.
struct JSONFields {
    private let object: [String: JSONValue]
    /// Fields read so far (a message has a handful: a list beats a set).
    private var used: [String] = ["type"]

    /// Parses `bytes` as one JSON object of at most `maxBytes`.
    init(_ bytes: [UInt8], maxBytes: Int) throws(ClientProtocolError) {
        guard bytes.count <= maxBytes else { throw ClientProtocolError(code: "too_large", message: "message over \(maxBytes) bytes") }
        guard case .object(let object) = JSONParser.parseValue(bytes) else {
            throw ClientProtocolError(code: "bad_json", message: "not a JSON object")
        }
        self.object = object
    }

    /// The message's `type`.
    func type() throws(ClientProtocolError) -> String {
        guard case .string(let type) = object["type"] else { throw ClientProtocolError(code: "missing_field", message: "field 'type' is required") }
        return type
    }

    mutating func string(_ name: String, maxLength: Int = 256) throws(ClientProtocolError) -> String {
        guard let value = try optionalString(name, maxLength: maxLength) else {
            throw ClientProtocolError(code: "missing_field", message: "field '\(name)' is required")
        }
        return value
    }

    /// A required string of 1 to `maxLength` bytes (a chat message's text).
    mutating func nonEmptyString(_ name: String, maxLength: Int) throws(ClientProtocolError) -> String {
        let value = try string(name, maxLength: maxLength)
        guard !value.isEmpty else { throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' must not be empty") }
        return value
    }

    mutating func optionalString(_ name: String, maxLength: Int = 256) throws(ClientProtocolError) -> String? {
        used.append(name)
        guard let raw = object[name], raw != .null else { return nil }
        guard case .string(let value) = raw else { throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' must be a string") }
        guard value.utf8.count <= maxLength else {
            throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' is longer than \(maxLength) bytes")
        }
        return value
    }

    mutating func integer(_ name: String, range: ClosedRange<Int64>) throws(ClientProtocolError) -> Int64 {
        guard let value = try optionalInteger(name, range: range) else {
            throw ClientProtocolError(code: "missing_field", message: "field '\(name)' is required")
        }
        return value
    }

    mutating func optionalInteger(_ name: String, range: ClosedRange<Int64>) throws(ClientProtocolError) -> Int64? {
        used.append(name)
        guard let raw = object[name], raw != .null else { return nil }
        let exact: Int64? = switch raw {
        case .int(let int): Int64(int)
        case .double(let double): Int64(exactly: double)
        default: nil  // booleans and strings are not integers
        }
        guard let value = exact, range.contains(value) else {
            throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    mutating func number(_ name: String, range: ClosedRange<Double>) throws(ClientProtocolError) -> Double? {
        used.append(name)
        guard let raw = object[name], raw != .null else { return nil }
        let number: Double? = switch raw {
        case .int(let int): Double(int)
        case .double(let double): double
        default: nil
        }
        guard let number, range.contains(number) else {
            throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    mutating func optionalBool(_ name: String) throws(ClientProtocolError) -> Bool? {
        used.append(name)
        guard object[name] != nil else { return nil }
        return try bool(name)
    }

    mutating func bool(_ name: String) throws(ClientProtocolError) -> Bool {
        used.append(name)
        guard let raw = object[name] else { throw ClientProtocolError(code: "missing_field", message: "field '\(name)' is required") }
        guard case .bool(let value) = raw else {
            throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' must be true or false")
        }
        return value
    }

    /// A value from a fixed set of strings.
    mutating func choice<T: RawRepresentable>(_ name: String, as: T.Type) throws(ClientProtocolError) -> T where T.RawValue == String {
        let text = try string(name)
        guard let value = T(rawValue: text) else { throw ClientProtocolError(code: "invalid_field", message: "field '\(name)' has no value '\(text)'") }
        return value
    }

    /// Refuses fields the message type does not have (a typo must not pass silently).
    func finish() throws(ClientProtocolError) {
        // The first unknown field in name order, so the error names the same one every time.
        if let unknown = object.keys.filter({ !used.contains($0) }).min() {
            throw ClientProtocolError(code: "unknown_field", message: "unknown field '\(unknown)'")
        }
    }
}
