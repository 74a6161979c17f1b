import Foundation
import Wire

/// Who a verified token says its bearer is. The site always comes from here, never from a
/// client's message, so nobody can act on another site.
public struct AccessClaims: Equatable, Sendable, Encodable {
    /// What the bearer may do.
    public enum Role: String, Sendable, Encodable {
        /// A shopper (anonymous session, or identified by the shop).
        case visitor
        /// An operator of the site.
        case `operator`
        /// An operator who may also use the admin API.
        case admin
    }

    /// The operator or visitor id.
    public var sub: String
    /// The site the token was signed for.
    public var site: String
    /// The bearer's role.
    public var role: Role
    /// Display name, if the issuer gave one.
    public var name: String?
    /// A visitor's e-mail address, when the shop signed their identity.
    public var email: String?
    /// The shop's customer id for the visitor.
    public var customerId: String?
    /// A short summary of the visitor's order(s), for the operator.
    public var order: String?
    /// Expiry, seconds since 1970 (required).
    public var exp: Int64
    /// Issue time, seconds since 1970.
    public var iat: Int64?

    /// Claims.
    public init(sub: String, site: String, role: Role, name: String? = nil, exp: Int64, iat: Int64? = nil) {
        (self.sub, self.site, self.role, self.name, self.exp, self.iat) = (sub, site, role, name, exp, iat)
    }
}

/// Why a token was refused. Every case is answered with HTTP 401 / code `unauthorized`.
public enum TokenError: Error, Equatable, Sendable {
    /// Not three base64url parts, or not JSON (a repeated key makes it not JSON here).
    case malformed
    /// The header names an algorithm other than HS256 (including "none").
    case unsupportedAlgorithm(String)
    /// The signature does not match the site's secret.
    case badSignature
    /// `exp` is in the past.
    case expired
    /// A required claim is missing or of the wrong type.
    case invalidClaims
}

/// JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS HS256, RFC 7515), so a shop's
/// backend can mint operator and identity tokens with any JWT library.
///
/// A gateway serves several sites, each with its own secret, so the secret to check a token
/// with depends on the token. The payload is parsed once, strictly (a repeated key is
/// refused), and the site of those very claims chooses the secret: there is no second
/// reading that could name another site.
public enum AccessToken {
    /// Signs claims with a site's secret.
    public static func sign(_ claims: AccessClaims, secret: [UInt8]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding a struct of strings and integers cannot fail; a failure would be a bug.
        guard let payload = try? encoder.encode(claims) else { preconditionFailure("AccessClaims did not encode") }
        return HS256Token.sign(payload: Array(payload), secret: secret)
    }

    /// Checks the algorithm and the signature against one known secret and returns the raw
    /// JSON payload's bytes.
    public static func verifiedPayload(_ token: String, secret: [UInt8]) throws(TokenError) -> [UInt8] {
        let parts = try split(token)
        guard HMACSHA256.constantTimeEquals(parts.signature, HS256Token.signature(of: parts.signingInput, secret: secret)) else {
            throw .badSignature
        }
        return parts.payload
    }

    /// Verifies a token: algorithm, claims, the signature with the secret of the claims'
    /// own site (`secretOf` answers nil for a site the gateway does not serve), and expiry
    /// against `now`, seconds since 1970.
    public static func verify(_ token: String, secretOf: (String) -> [UInt8]?, now: Int64) throws(TokenError) -> AccessClaims {
        let parts = try split(token)
        let claims = try AccessClaims(json: parts.payload)
        guard let secret = secretOf(claims.site),
              HMACSHA256.constantTimeEquals(parts.signature, HS256Token.signature(of: parts.signingInput, secret: secret)) else {
            throw .badSignature
        }
        guard claims.exp > now else { throw .expired }
        return claims
    }

    /// Verifies a token that must belong to the one site whose secret is given.
    public static func verify(_ token: String, site: String, secret: [UInt8], now: Int64) throws(TokenError) -> AccessClaims {
        try verify(token, secretOf: { $0 == site ? secret : nil }, now: now)
    }

    private struct Parts {
        var signingInput: String
        var payload: [UInt8]
        var signature: [UInt8]
    }

    /// The three parts, with the header checked: a JSON object whose `alg` is HS256.
    private static func split(_ token: String) throws(TokenError) -> Parts {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64.decodeURL(String(parts[0])),
              let payload = Base64.decodeURL(String(parts[1])), let signature = Base64.decodeURL(String(parts[2])),
              let header = JSONParser.parse(headerBytes) as? [String: Any] else {
            throw .malformed
        }
        guard let algorithm = header["alg"] as? String, algorithm == "HS256" else {
            throw .unsupportedAlgorithm(header["alg"] as? String ?? "missing")
        }
        return Parts(signingInput: "\(parts[0]).\(parts[1])", payload: payload, signature: signature)
    }
}

extension AccessClaims {
    /// The claims of a token's payload. Claims other than Switchboard's (`iss`, `aud`, …)
    /// are allowed and ignored, as RFC 7519 4 asks; Switchboard's must have their types.
    init(json: [UInt8]) throws(TokenError) {
        guard let object = JSONParser.parse(json) as? [String: Any] else { throw .malformed }
        func text(_ key: String) throws(TokenError) -> String? {
            guard let raw = object[key], !(raw is JSONNull) else { return nil }
            guard let value = raw as? String else { throw .invalidClaims }
            return value
        }
        func seconds(_ key: String) throws(TokenError) -> Int64? {
            guard let raw = object[key], !(raw is JSONNull) else { return nil }
            guard let value = raw as? Int else { throw .invalidClaims }
            return Int64(value)
        }
        guard let sub = try text("sub"), !sub.isEmpty, let site = try text("site"), !site.isEmpty,
              let role = try text("role").flatMap(Role.init(rawValue:)), let exp = try seconds("exp") else {
            throw .invalidClaims
        }
        self.init(sub: sub, site: site, role: role, name: try text("name"), exp: exp, iat: try seconds("iat"))
        email = try text("email")
        customerId = try text("customerId")
        order = try text("order")
    }
}

extension AccessClaims {
    /// Who the router is told a verified token's bearer is: site, role and id, and the
    /// identity a shop signed for a visitor.
    var principal: Principal {
        let role: Principal.Role = switch self.role {
        case .visitor: .visitor
        case .operator: .operator
        case .admin: .admin
        }
        var attributes: [String: String] = [:]
        attributes["name"] = name
        attributes["email"] = email
        attributes["customerId"] = customerId
        attributes["order"] = order
        return Principal(site: site, role: role, id: sub, attributes: attributes)
    }
}
