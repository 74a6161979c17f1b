// libFuzzer target: access token verification (built with the gateway's AccessToken.swift).
// The fuzzed bytes are a token's payload, signed with the secret of site "other"; the
// gateway also serves "shop". Whatever the payload, a token that verifies must be for the
// site whose secret signed it (issue 10: a payload naming "site" twice was verified with
// one site's secret and read as the other). The raw bytes are also tried as a whole token.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzToken(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let secrets: [String: [UInt8]] = ["shop": Array("the-shop-secret".utf8), "other": Array("the-other-secret".utf8)]
    let lookup: (String) -> [UInt8]? = { secrets[$0] }
    let token = HS256Token.sign(payload: bytes, secret: secrets["other"]!)
    if let claims = try? AccessToken.verify(token, secretOf: lookup, now: 0) {
        require(claims.site == "other", "a token signed with other's secret verified as \(claims.site)")
    }
    if let text = String(validating: bytes, as: UTF8.self), let claims = try? AccessToken.verify(text, secretOf: lookup, now: 0) {
        // A random string that verifies would be an HMAC forgery; only a signed one may.
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let expected = HS256Token.signature(of: "\(parts[0]).\(parts[1])", secret: secrets[claims.site]!)
        require(Base64.decodeURL(String(parts[2])) == expected, "a token verified without its site's signature")
    }
    return 0
}
