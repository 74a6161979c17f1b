"""Writes the seed corpora of the fuzz targets (Fuzz/run.sh calls it): the inputs the
tests use, so each fuzzer starts from the shapes that matter."""

import base64
import os
import struct
import sys

out = sys.argv[1]


def put(target, name, data):
    folder = os.path.join(out, target, "corpus")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


http = [
    "GET /widget.js?site=shop HTTP/1.1\r\nHost: example\r\nX-Forwarded-For:  10.0.0.1 \r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "POST /api/x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello worldGET / HTTP/1.0\r\n\r\n",
    "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
]
for n, text in enumerate(http):
    put("HTTPParserFuzz", f"request-{n}", text)


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


put("WebSocketParserFuzz", "text", b"\x00" + ws_frame(1, b'{"type":"hello","site":"shop"}'))
put("WebSocketParserFuzz", "fragmented", b"\x00" + ws_frame(1, b"Hel", fin=False) + ws_frame(9, b"") + ws_frame(0, b"lo"))
put("WebSocketParserFuzz", "close", b"\x00" + ws_frame(8, b"\x03\xe8bye"))
put("WebSocketParserFuzz", "long", b"\x00" + ws_frame(1, b"x" * 300))

messages = [
    '{"type":"hello","token":"abc"}', '{"type":"hello","site":"shop"}',
    '{"type":"send","conversation":"c1","clientMessageId":"m1","text":"Grüße"}',
    '{"type":"send","conversation":"c1","clientMessageId":"m","text":"a","text":"b"}',
    '{"type":"typing","conversation":"c1","typing":true}', '{"type":"read","conversation":"c1","sequence":7}',
    '{"type":"start","requestId":"r1","department":"billing","name":"Maria","email":null}',
    '{"type":"cart","value":129.9,"items":3}', '{"a":1,"b":-2.5e3,"c":"x\\"y\\\\z\\/\\n\\u00e9\\ud83d\\udc4b","d":[true,false,null,{}],"e":{"f":[]}}',
]
for n, text in enumerate(messages):
    put("JSONFuzz", f"message-{n}", text)

payloads = [
    '{"sub":"anna","site":"other","role":"admin","exp":9999999999}',
    '{"site":"shop","sub":"eve","role":"admin","exp":9999999999,"site":"other"}',
    '{"sub":"v","site":"other","role":"visitor","exp":1,"name":"Maria","email":"m@example.com"}',
]
for n, text in enumerate(payloads):
    put("TokenFuzz", f"payload-{n}", text)

for n, raw in enumerate([b"\x05\x10\x00", b"\x0b\x02\x01\x10\x00\x20\x01\x00\x30\xff", b"\x00\x00\x01\x00\x40\x00\x13\x01"]):
    put("LogRecoveryFuzz", f"damage-{n}", raw)

fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WireTests", "Fixtures")
for name in sorted(os.listdir(fixtures)):
    if name == "typed-values.hex":
        # One "kind/name hex" line per typed value: each becomes the payload of the message
        # that carries it (commands in `command` 18, events in `sessionUpdate` 22, replies
        # in `commandReply` 19), so the message fuzzer starts from every case.
        with open(os.path.join(fixtures, name)) as f:
            for line in f.read().splitlines():
                key, _, value = line.partition(" ")
                kind, _, case = key.partition("/")
                value = bytes.fromhex(value)
                if kind == "command":  # session 1, principal shop / visitor / v, no attributes
                    seed = (18).to_bytes(2, "big") + b"\x01\x04shop\x01\x01v\x00" + value
                elif kind == "event":
                    seed = (22).to_bytes(2, "big") + b"\x01" + value
                else:
                    seed = (19).to_bytes(2, "big") + value
                put("MessageDecoderFuzz", f"typed-{kind}-{case}", seed)
    elif name.endswith(".hex"):
        with open(os.path.join(fixtures, name)) as f:
            frame = bytes.fromhex("".join(f.read().split()))
        put("FrameDecoderFuzz", name[:-4], frame)
        # type (2 bytes, big-endian) + payload: the 12-byte header's type, then the payload.
        put("MessageDecoderFuzz", name[:-4], frame[2:4] + frame[12:])
