import Gateway
import Testing
import Wire

@Suite struct AccessTokenTests {
    let secret = Array("site-secret-of-the-shop".utf8)

    @Test func rfc7515ExampleA1_verifies_withItsKey() throws {
        // RFC 7515 appendix A.1: an HS256 JWS and its key (JWK "k").
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let key = try #require(Base64.decodeURL("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"))
        let payload = try AccessToken.verifiedPayload(token, secret: key)
        #expect(String(decoding: payload, as: UTF8.self).contains("\"iss\":\"joe\""))
        #expect(throws: TokenError.badSignature) { try AccessToken.verifiedPayload(token, secret: Array(key.dropLast())) }
    }

    @Test func signedClaims_roundTrip_untilTheyExpire() throws {
        let claims = AccessClaims(sub: "anna", site: "shop", role: .operator, name: "Anna", exp: 2_000, iat: 1_000)
        let token = AccessToken.sign(claims, secret: secret)
        #expect(try AccessToken.verify(token, site: "shop", secret: secret, now: 1_999) == claims)
        #expect(throws: TokenError.expired) { try AccessToken.verify(token, site: "shop", secret: secret, now: 2_000) }
    }

    @Test func anotherSitesSecret_isRefused() {
        let token = AccessToken.sign(AccessClaims(sub: "anna", site: "shop", role: .admin, exp: 2_000), secret: secret)
        #expect(throws: TokenError.badSignature) { try AccessToken.verify(token, site: "shop", secret: Array("other-site".utf8), now: 1_000) }
    }

    @Test func tamperedPayload_isRefused() {
        let token = AccessToken.sign(AccessClaims(sub: "anna", site: "shop", role: .operator, exp: 2_000), secret: secret)
        let parts = token.split(separator: ".").map(String.init)
        let forged = Base64.encodeURL(Array(#"{"exp":2000,"role":"admin","site":"shop","sub":"anna"}"#.utf8))
        #expect(throws: TokenError.badSignature) { try AccessToken.verify("\(parts[0]).\(forged).\(parts[2])", site: "shop", secret: secret, now: 1_000) }
    }

    @Test func algNone_andOtherAlgorithms_areRefused() {
        let none = Base64.encodeURL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let payload = Base64.encodeURL(Array(#"{"exp":2000,"role":"admin","site":"shop","sub":"x"}"#.utf8))
        #expect(throws: TokenError.unsupportedAlgorithm("none")) { try AccessToken.verify("\(none).\(payload).", site: "shop", secret: secret, now: 1) }
        let rs = Base64.encodeURL(Array(#"{"alg":"RS256"}"#.utf8))
        #expect(throws: TokenError.unsupportedAlgorithm("RS256")) { try AccessToken.verify("\(rs).\(payload).AAAA", site: "shop", secret: secret, now: 1) }
    }

    /// Regression (issue 10): with two sites, a payload naming `site` twice and signed with
    /// the second site's secret was verified with that secret and read as the first site.
    @Test func repeatedSiteClaim_signedWithAnotherSitesSecret_isRefused() {
        let secrets = ["shop": secret, "other": Array("the-other-site-secret".utf8)]
        let header = Base64.encodeURL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        for payloadText in [#"{"site":"shop","sub":"eve","role":"admin","exp":9999999999,"site":"other"}"#,
                            #"{"site":"other","sub":"eve","role":"admin","exp":9999999999,"site":"shop"}"#] {
            let payload = Base64.encodeURL(Array(payloadText.utf8))
            let signature = Base64.encodeURL(HS256Token.signature(of: "\(header).\(payload)", secret: secrets["other"]!))
            #expect(throws: TokenError.malformed) {
                try AccessToken.verify("\(header).\(payload).\(signature)", secretOf: { secrets[$0] }, now: 1)
            }
        }
    }

    @Test func theClaimsOwnSite_choosesTheSecret() throws {
        let secrets = ["shop": secret, "other": Array("the-other-site-secret".utf8)]
        let forOther = AccessToken.sign(AccessClaims(sub: "eve", site: "other", role: .admin, exp: 2_000), secret: secrets["other"]!)
        #expect(try AccessToken.verify(forOther, secretOf: { secrets[$0] }, now: 1).site == "other")
        // Signed with other's secret but claiming shop: checked against shop's secret, refused.
        let claimingShop = AccessToken.sign(AccessClaims(sub: "eve", site: "shop", role: .admin, exp: 2_000), secret: secrets["other"]!)
        #expect(throws: TokenError.badSignature) { try AccessToken.verify(claimingShop, secretOf: { secrets[$0] }, now: 1) }
        // A site the gateway does not serve has no secret at all.
        let unknown = AccessToken.sign(AccessClaims(sub: "eve", site: "elsewhere", role: .admin, exp: 2_000), secret: secret)
        #expect(throws: TokenError.badSignature) { try AccessToken.verify(unknown, secretOf: { secrets[$0] }, now: 1) }
    }

    @Test func repeatedKeysInTheHeader_areRefused() {
        let header = Base64.encodeURL(Array(#"{"alg":"none","alg":"HS256"}"#.utf8))
        let payload = Base64.encodeURL(Array(#"{"exp":2000,"role":"admin","site":"shop","sub":"x"}"#.utf8))
        let signature = Base64.encodeURL(HS256Token.signature(of: "\(header).\(payload)", secret: secret))
        #expect(throws: TokenError.malformed) { try AccessToken.verify("\(header).\(payload).\(signature)", site: "shop", secret: secret, now: 1) }
    }

    @Test func malformedTokens_andMissingClaims_areRefused() {
        for bad in ["", "a.b", "a.b.c.d", "!!.??.**", "eyJhbGciOiJIUzI1NiJ9.e30"] {
            #expect(throws: TokenError.self) { try AccessToken.verify(bad, site: "shop", secret: secret, now: 1) }
        }
        // Correctly signed, but no site and no expiry.
        let header = Base64.encodeURL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = Base64.encodeURL(Array(#"{"sub":"anna"}"#.utf8))
        let signature = Base64.encodeURL(HMACSHA256.authenticate(message: Array("\(header).\(payload)".utf8), key: secret))
        #expect(throws: TokenError.invalidClaims) { try AccessToken.verify("\(header).\(payload).\(signature)", site: "shop", secret: secret, now: 1) }
    }
}
