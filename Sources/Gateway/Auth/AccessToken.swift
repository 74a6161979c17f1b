import Foundation
import Wire

/// Who a verified token says its bearer is. The site always comes from here, never from a
/// client's message, so nobody can act on another site.
public struct AccessClaims: Equatable, Sendable, Codable {
    /// What the bearer may do.
    public enum Role: String, Sendable, Codable {
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
    /// Not three base64url parts, or not JSON.
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
public enum AccessToken {
    /// Signs claims with a site's secret.
    public static func sign(_ claims: AccessClaims, secret: [UInt8]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return HS256Token.sign(payload: Array((try? encoder.encode(claims)) ?? Data()), secret: secret)
    }

    /// Checks the algorithm and the signature and returns the raw JSON payload's bytes; the
    /// signature is checked before the payload is parsed.
    public static func verifiedPayload(_ token: String, secret: [UInt8]) throws(TokenError) -> [UInt8] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64.decodeURL(String(parts[0])),
              let payload = Base64.decodeURL(String(parts[1])), let signature = Base64.decodeURL(String(parts[2])),
              let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw .malformed
        }
        guard let algorithm = header["alg"] as? String, algorithm == "HS256" else {
            throw .unsupportedAlgorithm(header["alg"] as? String ?? "missing")
        }
        let expected = HS256Token.signature(of: "\(parts[0]).\(parts[1])", secret: secret)
        guard HMACSHA256.constantTimeEquals(signature, expected) else { throw .badSignature }
        return payload
    }

    /// The `site` claim read *without* verification: only to choose which site's secret to
    /// verify the token with.
    public static func unverifiedSite(_ token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64.decodeURL(String(parts[1])),
              let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else { return nil }
        return object["site"] as? String
    }

    /// Verifies a token (signature, algorithm, claims, expiry against `now`, seconds since
    /// 1970) and returns its Switchboard claims.
    public static func verify(_ token: String, secret: [UInt8], now: Int64) throws(TokenError) -> AccessClaims {
        let payload = try verifiedPayload(token, secret: secret)
        guard let claims = try? JSONDecoder().decode(AccessClaims.self, from: Data(payload)) else { throw .invalidClaims }
        guard claims.exp > now else { throw .expired }
        return claims
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
