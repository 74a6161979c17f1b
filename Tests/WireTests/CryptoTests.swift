import Foundation
import Testing
import Wire

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

private func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

@Suite struct SHA256Tests {
    // FIPS 180-4 examples (NIST CSRC "Examples with intermediate values").
    @Test func fipsExample_abc() {
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func fipsExample_twoBlockMessage() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hex(SHA256.hash(message)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func emptyMessage() {
        #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func oneMillionA_fedInUnevenPieces() {
        var hasher = SHA256()
        var fed = 0
        var piece = 1
        while fed < 1_000_000 {
            let count = min(piece, 1_000_000 - fed)
            hasher.update(repeatElement(UInt8(ascii: "a"), count: count))
            fed += count
            piece = piece * 7 % 997 + 1
        }
        #expect(hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func paddingBoundaries_55_56_64_bytes() {
        // Lengths where padding needs one or two extra blocks; values from sha256sum.
        #expect(hex(SHA256.hash(repeatElement(UInt8(ascii: "a"), count: 55))) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(hex(SHA256.hash(repeatElement(UInt8(ascii: "a"), count: 56))) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(hex(SHA256.hash(repeatElement(UInt8(ascii: "a"), count: 64))) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }
}

@Suite struct HMACTests {
    // RFC 4231 test cases for HMAC-SHA-256.
    @Test func rfc4231_case1() {
        let mac = HMACSHA256.authenticate(message: Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20))
        #expect(hex(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func rfc4231_case2_shortKey() {
        let mac = HMACSHA256.authenticate(message: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func rfc4231_case3() {
        let mac = HMACSHA256.authenticate(message: [UInt8](repeating: 0xdd, count: 50), key: [UInt8](repeating: 0xaa, count: 20))
        #expect(hex(mac) == "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
    }

    @Test func rfc4231_case4() {
        let mac = HMACSHA256.authenticate(message: [UInt8](repeating: 0xcd, count: 50), key: Array(1...25))
        #expect(hex(mac) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    }

    @Test func rfc4231_case6_keyLongerThanBlock() {
        let mac = HMACSHA256.authenticate(
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            key: [UInt8](repeating: 0xaa, count: 131))
        #expect(hex(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func rfc4231_case7_longKeyAndMessage() {
        let message = "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
        let mac = HMACSHA256.authenticate(message: Array(message.utf8), key: [UInt8](repeating: 0xaa, count: 131))
        #expect(hex(mac) == "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    @Test func constantTimeEquals_detectsAnySingleByteDifference() {
        let mac = HMACSHA256.authenticate(message: [1, 2, 3], key: [4])
        #expect(HMACSHA256.constantTimeEquals(mac, mac))
        for index in mac.indices {
            var forged = mac
            forged[index] ^= 0x01
            #expect(!HMACSHA256.constantTimeEquals(mac, forged))
        }
        #expect(!HMACSHA256.constantTimeEquals(mac, Array(mac.dropLast())))
    }
}

@Suite struct CRC32CTests {
    @Test func checkValue_123456789() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    // RFC 3720 appendix B.4 examples.
    @Test func rfc3720_32BytesOfZeros() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func rfc3720_32BytesOfOnes() {
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test func rfc3720_incrementingBytes() {
        #expect(CRC32C.checksum(Array(0...31)) == 0x46DD_794E)
    }

    @Test func rfc3720_decrementingBytes() {
        #expect(CRC32C.checksum(Array((0...31).reversed())) == 0x113F_DB5C)
    }

    @Test func continuing_equalsOneShot_atEverySplit() {
        var rng = SplitMix64(seed: 3)
        let data = (0..<100).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(data)
        for split in 0...data.count {
            let first = CRC32C.checksum(Array(data[..<split]))
            #expect(CRC32C.checksum(Array(data[split...]), continuing: first) == whole)
        }
    }
}

extension Array where Element == UInt8 {
    init(hexString: String) { self = bytes(hex: hexString) }
    var hexString: String { hex(self) }
}
