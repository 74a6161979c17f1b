import Foundation
import Testing
import Wire

@Suite struct ClientProtocolTests {
    private func parse(_ json: String) -> Result<ClientCommand, ClientProtocolError> {
        Result { () throws(ClientProtocolError) in try ClientCommand.parse(Array(json.utf8)) }
    }

    @Test func everyCommandType_parses() {
        let cases: [(String, ClientCommand)] = [
            (#"{"type":"hello","token":"abc"}"#, .hello(token: "abc", site: nil)),
            (#"{"type":"hello","site":"shop"}"#, .hello(token: nil, site: "shop")),
            (#"{"type":"send","conversation":"c1","clientMessageId":"m1","text":"Grüße"}"#, .send(conversation: "c1", clientMessageID: "m1", text: "Grüße")),
            (#"{"type":"typing","conversation":"c1","typing":true}"#, .typing(conversation: "c1", typing: true)),
            (#"{"type":"read","conversation":"c1","sequence":7}"#, .read(conversation: "c1", sequence: 7)),
            (#"{"type":"resume","conversation":"c1","after":0}"#, .resume(conversation: "c1", after: 0)),
            (#"{"type":"start","requestId":"r1","department":"billing","name":"Maria","email":null}"#,
             .start(requestID: "r1", department: "billing", name: "Maria", email: nil, question: nil)),
            (#"{"type":"page","url":"https://shop/p/1"}"#, .pageView(url: "https://shop/p/1", title: nil)),
            (#"{"type":"cart","value":129.9,"items":3}"#, .cart(value: 129.9, items: 3)),
            (#"{"type":"leave","conversation":"c1"}"#, .leave(conversation: "c1")),
            (#"{"type":"rate","conversation":"c1","score":5,"comment":"great"}"#, .rate(conversation: "c1", score: 5, comment: "great")),
            (#"{"type":"status","status":"away"}"#, .setStatus(.away)),
            (#"{"type":"accept","conversation":"c1"}"#, .accept(conversation: "c1")),
            (#"{"type":"decline","conversation":"c1"}"#, .decline(conversation: "c1")),
            (#"{"type":"transfer","conversation":"c1","toDepartment":"support","note":"printer"}"#,
             .transfer(conversation: "c1", toOperator: nil, toDepartment: "support", note: "printer")),
            (#"{"type":"end","conversation":"c1"}"#, .end(conversation: "c1")),
            (#"{"type":"departments"}"#, .departments),
            (#"{"type":"emailTranscript","conversation":"c1","email":"maria@example.com"}"#, .emailTranscript(conversation: "c1", email: "maria@example.com")),
            (#"{"type":"attachment","conversation":"c1","id":"ab12"}"#, .attachment(conversation: "c1", id: "ab12")),
            (#"{"type":"navigate","conversation":"c1","url":"/shop/shipping.html"}"#, .navigate(conversation: "c1", url: "/shop/shipping.html")),
            (#"{"type":"invite","visitor":"v-1","department":"sales"}"#, .invite(visitor: "v-1", department: "sales", text: nil)),
            (#"{"type":"canned"}"#, .canned),
            (#"{"type":"saveCanned","shortcut":"hi_2","text":"Hello {visitor}","scope":"personal"}"#,
             .saveCanned(shortcut: "hi_2", text: "Hello {visitor}", scope: .personal)),
            (#"{"type":"deleteCanned","shortcut":"hi","scope":"site"}"#, .deleteCanned(shortcut: "hi", scope: .site)),
        ]
        for (json, expected) in cases {
            #expect(parse(json) == .success(expected), "\(json)")
        }
    }

    @Test(arguments: [
        ("not json", "bad_json"),
        ("[1,2]", "bad_json"),
        (#"{"token":"x"}"#, "missing_field"),
        (#"{"type":"launch"}"#, "unknown_type"),
        (#"{"type":"hello","token":"x","admin":true}"#, "unknown_field"),
        (#"{"type":"hello"}"#, "invalid_field"),
        (#"{"type":"hello","token":"x","site":"shop"}"#, "invalid_field"),
        (#"{"type":"send","conversation":"c1","clientMessageId":"m1"}"#, "missing_field"),
        (#"{"type":"send","conversation":"c1","clientMessageId":"m1","text":42}"#, "invalid_field"),
        (#"{"type":"typing","conversation":"c1","typing":1}"#, "invalid_field"),
        (#"{"type":"read","conversation":"c1","sequence":true}"#, "invalid_field"),
        (#"{"type":"read","conversation":"c1","sequence":-1}"#, "invalid_field"),
        (#"{"type":"read","conversation":"c1","sequence":1.5}"#, "invalid_field"),
        (#"{"type":"rate","conversation":"c1","score":6}"#, "invalid_field"),
        (#"{"type":"status","status":"busy"}"#, "invalid_field"),
        (#"{"type":"transfer","conversation":"c1"}"#, "invalid_field"),
        (#"{"type":"transfer","conversation":"c1","toOperator":"a","toDepartment":"b"}"#, "invalid_field"),
    ])
    func badMessages_getTheirCode(json: String, code: String) {
        guard case .failure(let error) = parse(json) else {
            Issue.record("\(json) should be refused")
            return
        }
        #expect(error.code == code, "\(json): \(error.message)")
    }

    @Test(arguments: [
        (#"{"type":"navigate","conversation":"c1","url":"javascript:alert(1)"}"#, "invalid_field"),
        (#"{"type":"saveCanned","shortcut":"hi there","text":"x","scope":"site"}"#, "invalid_field"),
        (#"{"type":"saveCanned","shortcut":"hi","text":"x","scope":"everyone"}"#, "invalid_field"),
        (#"{"type":"emailTranscript","conversation":"c1","email":"maria"}"#, "invalid_field"),
        (#"{"type":"emailTranscript","conversation":"c1","email":"a@b.c\r\nBcc: x@y.z"}"#, "invalid_field"),
        (#"{"type":"attach","conversation":"c1","clientMessageId":"f","name":"x.html","contentType":"text/html","data":"PGI+"}"#, "invalid_field"),
        (#"{"type":"attach","conversation":"c1","clientMessageId":"f","name":"x.png","contentType":"image/png","data":"%%%"}"#, "invalid_field"),
        (#"{"type":"attach","conversation":"c1","clientMessageId":"f","name":"x.png","contentType":"image/png","data":""}"#, "invalid_field"),
        (#"{"type":"invite"}"#, "missing_field"),
    ])
    func newCommands_refuseBadValues(json: String, code: String) {
        guard case .failure(let error) = parse(json) else {
            Issue.record("\(json) was accepted")
            return
        }
        #expect(error.code == code, "\(json): \(error.message)")
    }

    @Test func attachments_parseOnlyWithTheUploadLimit_andUpToTheirMaximumSize() {
        let data = Base64.encode([UInt8](repeating: 0xFF, count: ClientCommand.maxAttachmentBytes))
        let json = Array(#"{"type":"attach","conversation":"c1","clientMessageId":"f","name":"a.png","contentType":"image/png","data":"\#(data)"}"#.utf8)
        #expect(throws: ClientProtocolError.self) { try ClientCommand.parse(json) }
        #expect((try? ClientCommand.parse(json, maxBytes: ClientCommand.maxAttachCommandBytes)) != nil)
        let tooBig = Base64.encode([UInt8](repeating: 0xFF, count: ClientCommand.maxAttachmentBytes + 3))
        let over = Array(#"{"type":"attach","conversation":"c1","clientMessageId":"f","name":"a.png","contentType":"image/png","data":"\#(tooBig)"}"#.utf8)
        #expect(throws: ClientProtocolError.self) { try ClientCommand.parse(over, maxBytes: ClientCommand.maxAttachCommandBytes) }
    }

    /// Regression (issue 10): an empty text reached the router and came back as
    /// `invalid_message`; docs/client-protocol.md gives `text` 1 B to 8 KiB, an `invalid_field`.
    @Test func emptyText_isAnInvalidField() {
        guard case .failure(let error) = parse(#"{"type":"send","conversation":"c1","clientMessageId":"m","text":""}"#) else {
            Issue.record("an empty text should be refused")
            return
        }
        #expect(error.code == "invalid_field" && error.message.contains("text"))
    }

    @Test func oversizedMessagesAndFields_areRefused() {
        let longText = String(repeating: "x", count: 8 * 1024 + 1)
        guard case .failure(let field) = parse(#"{"type":"send","conversation":"c1","clientMessageId":"m","text":"\#(longText)"}"#) else {
            Issue.record("an over-long text should be refused")
            return
        }
        #expect(field.code == "invalid_field" && field.message.contains("text"))
        let huge = #"{"type":"hello","token":""# + String(repeating: "t", count: ClientCommand.maxMessageBytes) + #""}"#
        guard case .failure(let whole) = parse(huge) else {
            Issue.record("an oversized message should be refused")
            return
        }
        #expect(whole.code == "too_large")
    }

    @Test func newServerEvents_encodeAsDocumented() {
        func text(_ event: ServerEvent) -> String { String(decoding: event.json(), as: UTF8.self) }
        #expect(text(.departments([.init(id: "billing", online: true), .init(id: "sales", online: false)]))
            == #"{"items":[{"id":"billing","online":true},{"id":"sales","online":false}],"type":"departments"}"#)
        #expect(text(.navigate(conversation: "c1", url: "/shop/a")) == #"{"conversation":"c1","type":"navigate","url":"/shop/a"}"#)
        #expect(text(.invitation(operatorID: "anna", operatorName: "Anna", department: "sales", text: "Hi"))
            == #"{"department":"sales","operator":{"id":"anna","name":"Anna"},"text":"Hi","type":"invitation"}"#)
        #expect(text(.event(conversation: "c1", sequence: 4, time: 5, author: .visitor, kind: .attachment, text: "a.png",
                            attachment: .init(id: "ff", name: "a.png", contentType: "image/png", size: 10)))
            == #"{"attachment":{"contentType":"image/png","id":"ff","name":"a.png","size":10},"author":{"kind":"visitor"},"conversation":"c1","sequence":4,"text":"a.png","time":5,"type":"attachment"}"#)
    }

    @Test func serverEvents_encodeAsDocumented() {
        func text(_ event: ServerEvent) -> String { String(decoding: event.json(), as: UTF8.self) }
        #expect(text(.queued(conversation: "c1", position: 2, estimatedWaitSeconds: 90, time: 1_700_000_000_000.125))
                == #"{"conversation":"c1","estimatedWaitSeconds":90,"position":2,"time":1700000000000.125,"type":"queued"}"#)
        #expect(text(.offer(conversation: "c1", visitor: "v", visitorName: nil, department: "sales", expiresInSeconds: 10,
                            queuedAt: 1_700_000_000_000.5, time: 1_700_000_001_000))
                == #"{"conversation":"c1","department":"sales","expiresInSeconds":10,"queuedAt":1700000000000.5,"time":1700000001000.0,"type":"offer","visitor":"v"}"#)
        #expect(text(.event(conversation: "c1", sequence: 3, time: 1_700_000_000_000, author: .operator(id: "anna", name: "Anna"),
                            kind: .message, text: "Hi"))
                == #"{"author":{"id":"anna","kind":"operator","name":"Anna"},"conversation":"c1","sequence":3,"text":"Hi","time":1700000000000,"type":"message"}"#)
        #expect(text(.accepted(requestID: "r1", conversation: "c1", sequence: nil)) == #"{"conversation":"c1","requestId":"r1","type":"accepted"}"#)
        #expect(text(.error(code: "not_assigned", message: "m", requestID: nil)) == #"{"code":"not_assigned","message":"m","type":"error"}"#)
    }
}

@Suite struct JSONTextTests {
    @Test func output_parsesBackToTheSameValues_withEscapes() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{07} é 👋 </script>"
        let bytes = JSONText.serialize(["b": true, "a": text, "n": -42, "u": UInt64(7), "d": 1.5, "nested": ["z": 1, "y": [1, "two"]]] as [String: Any])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(parsed["a"] as? String == text)
        #expect(parsed["b"] as? Bool == true && parsed["n"] as? Int == -42 && parsed["d"] as? Double == 1.5)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"a":"#), "keys are sorted")
        #expect(String(decoding: JSONText.serialize(["z": 1, "y": 2] as [String: Any]), as: UTF8.self) == #"{"y":2,"z":1}"#)
    }
}

@Suite struct JSONParserTests {
    @Test func agreesWithFoundation_onValidDocuments() throws {
        let documents = [
            #"{"a":1,"b":-2.5e3,"c":"x\"y\\z\/\n\u00e9\ud83d\udc4b","d":[true,false,null,{}],"e":{"f":[]}}"#,
            #"  {"type" : "send" , "text" : "Grüße 👋"}  "#, "[]", "0", "-0.5", "\"s\"",
        ]
        for document in documents {
            let ours = try #require(JSONParser.parse(Array(document.utf8)), "\(document)")
            let theirs = try JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])
            #expect(JSONText.serialize(Self.replacingNulls(ours)) == JSONText.serialize(Self.normalised(theirs)), "\(document)")
        }
    }

    @Test(arguments: ["", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "01", "1.", "-", "tru", "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"",
                      "{} {}", "\"\\u12\"", String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
                      // Repeated keys (issue 10): refused at any depth, whatever the values.
                      #"{"a":1,"a":1}"#, #"{"site":"shop","x":0,"site":"other"}"#, #"{"o":{"k":[],"k":null}}"#, #"[{"a":1},{"b":2,"b":3}]"#,
                      #"{"\u0061":1,"a":2}"#,
                      // Fuzzer finding: numbers past a double's range were read as infinity.
                      "1e999", "-1111444444444444E44444444", #"{"value":1e400}"#])
    func refusesInvalidDocuments(document: String) {
        #expect(JSONParser.parse(Array(document.utf8)) == nil)
    }

    @Test func equalValuesUnderDifferentKeys_areFine() {
        #expect((JSONParser.parse(Array(#"{"a":1,"b":1,"c":{"a":1}}"#.utf8)) as? [String: Any])?.count == 3)
    }

    /// Regression (issue 10): a client message repeating a field is bad JSON, not a choice.
    @Test func aClientMessageRepeatingAField_isBadJSON() {
        let result = Result { () throws(ClientProtocolError) in
            try ClientCommand.parse(Array(#"{"type":"send","conversation":"c1","clientMessageId":"m","text":"a","text":"b"}"#.utf8))
        }
        guard case .failure(let error) = result else {
            Issue.record("a repeated field should be refused")
            return
        }
        #expect(error.code == "bad_json")
    }

    static func replacingNulls(_ value: Any) -> Any {
        switch value {
        case let object as [String: Any]: return object.mapValues(replacingNulls)
        case let array as [Any]: return array.map(replacingNulls)
        case is JSONNull: return "null-marker"
        default: return value
        }
    }

    /// Foundation's values in the forms our writer takes (NSNull as "null" marker, NSNumber
    /// booleans as Bool).
    static func normalised(_ value: Any) -> Any {
        switch value {
        case let object as [String: Any]: return object.mapValues(normalised)
        case let array as [Any]: return array.map(normalised)
        case is NSNull: return "null-marker"
        case let number as NSNumber where String(cString: number.objCType) == "c": return number.boolValue
        case let number as NSNumber:
            if let int = Int(exactly: number.doubleValue), !"\(number)".contains(".") && !"\(number)".contains("e") { return int }
            return number.doubleValue
        default: return value
        }
    }
}
