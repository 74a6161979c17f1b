/// The compact form of a JSON Web Signature with HMAC-SHA256 (RFC 7515, `alg` HS256):
/// `base64url(header).base64url(payload).base64url(signature)`. The gateway signs and
/// verifies access tokens with it; loadgen signs its load operators' tokens the same way.
public enum HS256Token {
    /// Signs a JSON payload with `secret`.
    public static func sign(payload: [UInt8], secret: [UInt8]) -> String {
        let header = Base64.encodeURL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let body = Base64.encodeURL(payload)
        return "\(header).\(body).\(Base64.encodeURL(signature(of: "\(header).\(body)", secret: secret)))"
    }

    /// The signature over `signingInput` (the token's first two parts and their dot).
    public static func signature(of signingInput: String, secret: [UInt8]) -> [UInt8] {
        HMACSHA256.authenticate(message: Array(signingInput.utf8), key: secret)
    }
}
