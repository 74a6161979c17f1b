#!/usr/bin/env python3
"""End-to-end test of `routerd dev` with a WebSocket client not written here (the
`websockets` package): an operator and a visitor chat, the visitor reconnects and resumes,
bad input gets its documented errors, SIGTERM drains. Run by `make test`; exits non-zero
on the first failed check. Every wait is bounded."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets

from support import ROOT, ROUTERD, check, start_routerd

TIMEOUT = 10


def http(address, method, path, body=None, headers=None, with_headers=False):
    all_headers = {"Content-Type": "application/json"} if body else {}
    all_headers.update(headers or {})
    request = urllib.request.Request(f"http://{address}{path}", method=method, data=body, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            result = (response.status, response.read(), response.headers)
    except urllib.error.HTTPError as error:
        result = (error.code, error.read(), error.headers)
    return result if with_headers else result[:2]


def raw_http(address, data):
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(data)
        return s.recv(4096).decode(errors="replace").split("\r\n")[0]


def pipelined(address, data):
    """Sends many pipelined requests at once and returns everything answered."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
        return received


async def receive_until(ws, predicate, what):
    """Reads messages until one satisfies `predicate`; returns it and everything read."""
    seen = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            seen.append(message)
            if predicate(message):
                return message, seen
    raise AssertionError(what)


async def chat(address):
    status, body = http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": "anna", "password": "nope"}).encode())
    check(status == 401, "a wrong password is refused with 401")
    status, body = http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": "anna", "password": "anna-demo"}).encode())
    check(status == 200, "the demo operator logs in")
    operator_token = json.loads(body)["token"]

    uri = f"ws://{address}/ws"
    async with websockets.connect(uri) as console, websockets.connect(uri) as widget:
        await console.send(json.dumps({"type": "hello", "token": operator_token}))
        welcome, _ = await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        check(welcome["role"] == "admin" and welcome["site"] == "shop", "the demo admin is welcomed with the token's site and role")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "status accepted")

        await widget.send(json.dumps({"type": "hello", "site": "shop"}))
        welcome, _ = await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome")
        visitor_token = welcome["token"]
        check(welcome["role"] == "visitor" and visitor_token, "a new visitor gets a session token")
        await widget.send(json.dumps({"type": "start", "requestId": "r1", "department": "sales"}))
        accepted, _ = await receive_until(widget, lambda m: m["type"] == "accepted", "start accepted")
        conversation = accepted["conversation"]
        check(accepted["requestId"] == "r1" and conversation, "the chat starts")

        offer, _ = await receive_until(console, lambda m: m["type"] == "offer", "offer")
        check(offer["conversation"] == conversation and offer["department"] == "sales", "the operator is offered the chat")
        await console.send(json.dumps({"type": "accept", "conversation": conversation}))
        await receive_until(widget, lambda m: m["type"] == "assigned", "assigned")

        await widget.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "m1", "text": "Where is my parcel?"}))
        sent, _ = await receive_until(widget, lambda m: m["type"] == "accepted", "send accepted")
        await receive_until(console, lambda m: m.get("text") == "Where is my parcel?", "operator sees the message")
        await widget.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "m1", "text": "Where is my parcel?"}))
        retried, _ = await receive_until(widget, lambda m: m["type"] == "accepted", "retry accepted")
        check(retried["sequence"] == sent["sequence"], "a retried send keeps its sequence number")

        await console.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "o1", "text": "It left today."}))
        await receive_until(widget, lambda m: m.get("text") == "It left today.", "visitor sees the reply")

        await widget.send(json.dumps({"type": "page", "url": "https://shop.example/p/blue-shoes", "title": "Blue shoes"}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "page view accepted")
        await widget.send(json.dumps({"type": "cart", "value": 129.9, "items": 2}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "cart accepted")
        await console.send(json.dumps({"type": "visitors"}))
        visitors, _ = await receive_until(console, lambda m: m["type"] == "visitors", "visitors listing")
        me = [v for v in visitors["items"] if v.get("conversation") == conversation]
        check(me and me[0]["cartValue"] == 129.9 and me[0]["page"].endswith("/p/blue-shoes") and me[0]["online"],
              "the operator sees the visitor's page and cart value")

        await console.send(json.dumps({"type": "chats"}))
        chats, _ = await receive_until(console, lambda m: m["type"] == "chats", "chats listing")
        check([c["conversation"] for c in chats["items"]] == [conversation], "the operator lists their open chats")
        await widget.send(json.dumps({"type": "chats"}))
        error, _ = await receive_until(widget, lambda m: m["type"] == "error", "visitor listing refused")
        check(error["code"] == "forbidden", "a visitor cannot list chats")

        await widget.send(json.dumps({"type": "launch"}))
        error, _ = await receive_until(widget, lambda m: m["type"] == "error", "unknown type")
        check(error["code"] == "unknown_type", "an unknown message type gets unknown_type")
        await widget.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "m2", "text": "x", "admin": True}))
        error, _ = await receive_until(widget, lambda m: m["type"] == "error", "unknown field")
        check(error["code"] == "unknown_field", "an unknown field gets unknown_field")

    # The visitor comes back (a reload) with the token and resumes from the start: every
    # event once, in order, nothing missing.
    async with websockets.connect(uri) as widget:
        await widget.send(json.dumps({"type": "hello", "token": visitor_token}))
        await receive_until(widget, lambda m: m["type"] == "welcome", "welcome back")
        await widget.send(json.dumps({"type": "resume", "conversation": conversation, "after": 0}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "resume accepted")
        _, seen = await receive_until(widget, lambda m: m.get("text") == "It left today.", "the replay reaches the last event")
        sequences = [m["sequence"] for m in seen if m["type"] in ("message", "notice")]
        check(sequences == list(range(1, len(sequences) + 1)) and len(sequences) >= 3, f"resume replays events 1..{len(sequences)} in order")

    # The operator ends the chat; the visitor rates it.
    async with websockets.connect(uri) as console, websockets.connect(uri) as widget:
        await console.send(json.dumps({"type": "hello", "token": operator_token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator back")
        await console.send(json.dumps({"type": "end", "conversation": conversation}))
        await receive_until(console, lambda m: m["type"] == "accepted", "end accepted")
        await widget.send(json.dumps({"type": "hello", "token": visitor_token}))
        back, _ = await receive_until(widget, lambda m: m["type"] == "welcome", "visitor back to rate")
        await widget.send(json.dumps({"type": "rate", "conversation": conversation, "score": 5, "comment": "great help"}))
        rated, _ = await receive_until(widget, lambda m: m["type"] in ("accepted", "error"), "rating answered")
        check(rated["type"] == "accepted", "the visitor rates the ended chat")
        await widget.send(json.dumps({"type": "rate", "conversation": conversation, "score": 1}))
        again, _ = await receive_until(widget, lambda m: m["type"] in ("accepted", "error"), "second rating answered")
        check(again["type"] == "error", "a chat is rated only once")
        await widget.send(json.dumps({"type": "page", "url": "https://shop.example/", "title": "Home"}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "page view accepted")
        await console.send(json.dumps({"type": "visitors"}))
        visitors, _ = await receive_until(console, lambda m: m["type"] == "visitors", "visitors listing")
        me = [v for v in visitors["items"] if v["visitor"] == back["id"]]
        check(me and me[0]["previousConversations"] == [{"conversation": conversation, "department": "sales", "state": "ended", "rating": 5}],
              "the visitor panel lists the visitor's earlier chat with its rating")

    # The admin REST API (anna is an admin in the demo).
    def admin(path, token):
        request = urllib.request.Request(f"http://{address}{path}", headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    status, body = admin("/api/admin/conversations?all=1", operator_token)
    listed = {c["conversation"]: c for c in json.loads(body)["items"]}
    check(status == 200 and listed.get(conversation, {}).get("state") == "ended", "admin lists the site's conversations, ended ones with ?all=1")
    status, body = admin("/api/admin/conversations", operator_token)
    check(status == 200 and conversation not in [c["conversation"] for c in json.loads(body)["items"]], "and only open ones by default")
    status, body = admin(f"/api/admin/conversations/{conversation}", operator_token)
    check(status == 200 and any(e.get("text") == "Where is my parcel?" for e in json.loads(body)["events"]), "admin reads a transcript as JSON")
    status, body = admin(f"/api/admin/conversations/{conversation}.txt", operator_token)
    check(status == 200 and b"Visitor: Where is my parcel?" in body, "and as plain text")
    status, body = admin("/api/admin/operators", operator_token)
    check(status == 200 and {"anna", "ben", "carl"} <= {o["id"] for o in json.loads(body)["items"]}, "admin lists the operators")
    check(admin("/api/admin/queues", operator_token)[0] == 200, "admin reads the queues")
    check(admin("/api/admin/conversations", None)[0] == 401, "the admin API needs a token")
    check(admin("/api/admin/conversations", visitor_token)[0] == 403, "a visitor token is not an admin token")
    check(admin("/api/admin/conversations/nope", operator_token)[0] == 404, "an unknown conversation is 404")

    # Someone else's conversation is out of reach.
    async with websockets.connect(uri) as intruder:
        await intruder.send(json.dumps({"type": "hello", "site": "shop"}))
        await receive_until(intruder, lambda m: m["type"] == "welcome", "intruder welcome")
        await intruder.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "x", "text": "hi"}))
        error, _ = await receive_until(intruder, lambda m: m["type"] == "error", "cross-visitor refusal")
        check(error["code"] == "unknown_conversation", "another visitor cannot write into the conversation")

    # A forged token is refused and the connection closed with 1008.
    async with websockets.connect(uri) as forged:
        parts = operator_token.split(".")
        await forged.send(json.dumps({"type": "hello", "token": parts[0] + "." + parts[1] + ".AAAA"}))
        error, _ = await receive_until(forged, lambda m: m["type"] == "error", "forged token")
        check(error["code"] == "unauthorized", "a forged token is refused")
        try:
            async with asyncio.timeout(TIMEOUT):
                await forged.recv()
        except websockets.ConnectionClosed as closed:
            check(closed.rcvd is not None and closed.rcvd.code == 1008, "and the connection is closed with 1008")


def raw_websocket(address):
    """A WebSocket opened by hand, to send frames a real client library refuses to send."""
    import base64
    host, port = address.split(":")
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += s.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return s


def frame(opcode, payload, masked=True, length=None):
    length = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + length.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + length.to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_code_after(s, data):
    """Sends `data`, then reads frames until the server's close frame; returns its code."""
    s.sendall(data)
    buffer = b""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start:start + length], buffer[start + length:]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")
    return None


def bad_frames(address):
    hello = json.dumps({"type": "hello", "site": "shop"}).encode()
    cases = [
        ("an unmasked client frame", frame(0x1, hello, masked=False), 1002),
        ("invalid UTF-8 in a text message", frame(0x1, b"\xc3\x28"), 1007),
        ("a message over 64 KiB (refused from its header)", frame(0x1, b"", length=70000), 1009),
        ("a binary message", frame(0x2, b"\x00\x01"), 1003),
        ("a flood of messages", b"".join(frame(0x1, hello) for _ in range(60)), 4429),
    ]
    for what, data, code in cases:
        with raw_websocket(address) as s:
            check(close_code_after(s, data) == code, f"{what} closes the WebSocket with {code}")
    check(http(address, "GET", "/healthz")[0] == 200, "the server stays up after the bad frames")


def login_throttle(address):
    """Regression (issue 10): the dev login took 400 wrong passwords in 0.2 s."""
    def login(operator, password):
        return http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": operator, "password": password}).encode(),
                    with_headers=True)
    statuses = [login("ben", f"guess-{n}")[0] for n in range(6)]
    check(statuses[:5] == [401] * 5 and statuses[5] == 429, "after five wrong passwords the login answers 429")
    status, body, headers = login("ben", "ben-demo")
    check(status == 429 and int(headers.get("Retry-After", "0")) >= 1 and "Try again in" in json.loads(body)["message"],
          "while it waits even the right password is refused, with Retry-After and a sentence")
    check(login("anna", "anna-demo")[0] == 200, "another operator logs in meanwhile")


def mint_token(secret, claims, lifetime=3600):
    """An HS256 JWT made with the standard library, as a shop's backend would."""
    import base64, hashlib, hmac
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({**claims, "exp": int(time.time()) + lifetime}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def wait_for_line(process, pattern):
    for line in process.stdout:
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise AssertionError(f"no line matching {pattern}")


async def refused(uri, token, what):
    async with websockets.connect(uri) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        error, _ = await receive_until(ws, lambda m: m["type"] == "error", what)
        check(error["code"] == "unauthorized", what)


async def split_chat(address, token):
    uri = f"ws://{address}/ws"
    secret = "the-shop-token-secret-change-me!!"
    await refused(uri, mint_token(secret, {"sub": "carl", "site": "shop", "role": "operator"}, lifetime=-10), "an expired token is refused")
    await refused(uri, mint_token(secret, {"sub": "carl", "site": "other-shop", "role": "admin"}), "a token for another site is refused")
    await refused(uri, mint_token("a-different-secret-of-32-bytes!!", {"sub": "carl", "site": "shop", "role": "admin"}),
                  "a token signed with another secret is refused")
    async with websockets.connect(uri) as console, websockets.connect(uri) as widget:
        await console.send(json.dumps({"type": "hello", "token": token}))
        welcome, _ = await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        check(welcome["role"] == "operator", "separate processes: a token minted by the shop's backend is accepted")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "status accepted")
        # The shop signs the visitor's identity; the operator sees it.
        identity = mint_token(secret, {"sub": "customer-48213", "site": "shop", "role": "visitor", "name": "Maria Rossi",
                                       "email": "maria@example.com", "customerId": "48213", "order": "#9921: blue shoes, 129.90"})
        await widget.send(json.dumps({"type": "hello", "token": identity}))
        await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome")
        await widget.send(json.dumps({"type": "start", "requestId": "r1", "department": "billing", "name": "Not Maria"}))
        accepted, _ = await receive_until(widget, lambda m: m["type"] == "accepted", "start accepted")
        offer, _ = await receive_until(console, lambda m: m["type"] == "offer", "offer")
        check(offer.get("visitorName") == "Maria Rossi", "the offer names the visitor from the shop's signed identity (not the form)")
        await console.send(json.dumps({"type": "accept", "conversation": offer["conversation"]}))
        await console.send(json.dumps({"type": "chats"}))
        chats, _ = await receive_until(console, lambda m: m["type"] == "chats", "chats")
        profile = chats["items"][0].get("visitorProfile", {})
        check(profile.get("order") == "#9921: blue shoes, 129.90" and profile.get("email") == "maria@example.com",
              "the operator sees the signed e-mail and order summary")
        await widget.send(json.dumps({"type": "send", "conversation": accepted["conversation"], "clientMessageId": "m1", "text": "Invoice?"}))
        message, _ = await receive_until(console, lambda m: m.get("text") == "Invoice?", "message across processes")
        check(True, "separate processes: router and gateway relay a chat")
        return {"conversation": accepted["conversation"], "identity": identity, "last": message["sequence"]}


async def closed_with(ws, what):
    """The close code once the server closes `ws` (messages before it are read and dropped)."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(what)


async def after_router_restart(address, token, before, restart_router):
    """Regression (issue 10): after a router restart, sockets that stayed open at the gateway
    heard nothing, their sends went nowhere and the operator counted as offline. Now the
    gateway tells them to resume (1012); reconnected, nothing is lost and chats flow."""
    uri = f"ws://{address}/ws"
    async with websockets.connect(uri) as console, websockets.connect(uri) as widget:
        await console.send(json.dumps({"type": "hello", "token": token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "status accepted")
        await widget.send(json.dumps({"type": "hello", "token": before["identity"]}))
        await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome")
        await widget.send(json.dumps({"type": "resume", "conversation": before["conversation"], "after": before["last"]}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "resume accepted")
        restart_router()
        check(await closed_with(console, "console closed") == 1012, "after a router restart the console is told to resume (1012)")
        check(await closed_with(widget, "widget closed") == 1012, "after a router restart the widget is told to resume (1012)")
    async with websockets.connect(uri) as console, websockets.connect(uri) as widget:
        await console.send(json.dumps({"type": "hello", "token": token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome again")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await console.send(json.dumps({"type": "chats"}))
        chats, _ = await receive_until(console, lambda m: m["type"] == "chats", "chats after the restart")
        check([c["conversation"] for c in chats["items"]] == [before["conversation"]], "the operator still holds the chat after the restart")
        await console.send(json.dumps({"type": "resume", "conversation": before["conversation"], "after": 0}))
        replayed, _ = await receive_until(console, lambda m: m.get("text") == "Invoice?", "the replay of the chat")
        await widget.send(json.dumps({"type": "hello", "token": before["identity"]}))
        await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome again")
        await widget.send(json.dumps({"type": "resume", "conversation": before["conversation"], "after": before["last"]}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "resume accepted again")
        await widget.send(json.dumps({"type": "send", "conversation": before["conversation"], "clientMessageId": "m2", "text": "Still there?"}))
        live, _ = await receive_until(console, lambda m: m.get("text") == "Still there?", "a message after the restart")
        check(live["sequence"] > replayed["sequence"], "after the restart the chat goes on live, in sequence")
        await console.send(json.dumps({"type": "send", "conversation": before["conversation"], "clientMessageId": "o1", "text": "Yes!"}))
        await receive_until(widget, lambda m: m.get("text") == "Yes!", "the operator's answer reaches the widget")
        check(True, "after the restart both sides of the chat hear each other")
        async with websockets.connect(uri) as shopper:
            await shopper.send(json.dumps({"type": "hello", "site": "shop"}))
            await receive_until(shopper, lambda m: m["type"] == "welcome", "new shopper welcome")
            await shopper.send(json.dumps({"type": "start", "requestId": "r2", "department": "billing"}))
            await receive_until(shopper, lambda m: m["type"] == "accepted", "new chat accepted")
            offer, _ = await receive_until(console, lambda m: m["type"] == "offer", "an offer after the restart")
            check(offer["department"] == "billing", "a new shopper's chat is offered to the reconnected operator, not left offline")


def split_processes():
    """`routerd router` and `routerd gateway` as separate processes, from deploy/'s example files."""
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SWITCHBOARD_DATA": data}
        router = subprocess.Popen([ROUTERD, "router", "--config", os.path.join(ROOT, "deploy", "router.example.json"),
                                   "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
        gateway = None
        try:
            line = wait_for_line(router, r'(msg="router listening".*)')
            wire = re.search(r"wire=([0-9.]+:[0-9]+)", line).group(1)
            metrics = re.search(r"http=([0-9.]+:[0-9]+)", line).group(1)
            gateway = subprocess.Popen([ROUTERD, "gateway", "--config", os.path.join(ROOT, "deploy", "gateway.example.json"),
                                        "--listen", "127.0.0.1:0", "--router", wire], stdout=subprocess.PIPE, text=True)
            address = wait_for_line(gateway, r'msg="gateway listening".* http=http://([0-9.]+:[0-9]+)')
            for _ in range(100):
                if http(address, "GET", "/readyz")[0] == 200:
                    break
                time.sleep(0.05)  # a separate process: poll its readiness, at most 5 s
            check(http(address, "GET", "/readyz")[0] == 200, "the gateway becomes ready once linked to the router")
            token = mint_token("the-shop-token-secret-change-me!!", {"sub": "carl", "site": "shop", "role": "operator", "name": "Carl"})
            before = asyncio.run(split_chat(address, token))
            admin = mint_token("the-shop-token-secret-change-me!!", {"sub": "carl", "site": "shop", "role": "admin"})
            status, body = http(address, "GET", "/api/admin/canned", headers={"Authorization": f"Bearer {admin}"})
            check(status == 200 and json.loads(body)["items"] == [], "a production router starts with no demo canned responses")
            scraped = http(metrics, "GET", "/metrics")[1]
            check(b"switchboard_router_open_conversations 1" in scraped and b"switchboard_router_assignments_total 1" in scraped
                  and b"switchboard_router_messages_total 1" in scraped and b'switchboard_router_wait_seconds_bucket{le="+Inf"} 1' in scraped,
                  "the router's /metrics counts the chat, the assignment, the message and the wait")

            def restart_router():
                nonlocal router
                router.kill()
                router.wait(timeout=TIMEOUT)
                router = subprocess.Popen([ROUTERD, "router", "--config", os.path.join(ROOT, "deploy", "router.example.json"),
                                           "--listen", wire, "--http", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
                wait_for_line(router, r'(msg="router listening".*)')

            asyncio.run(after_router_restart(address, token, before, restart_router))
            for process in (gateway, router):
                process.send_signal(signal.SIGTERM)
                check(process.wait(timeout=TIMEOUT) == 0, "SIGTERM drains and exits 0")
        finally:
            for process in (gateway, router):
                if process is not None and process.poll() is None:
                    process.kill()


async def more_flows(address, operator_token):
    """Offline messages, queue positions, typing, read receipts and transfers."""
    uri = f"ws://{address}/ws"

    async def visitor():
        ws = await websockets.connect(uri)
        await ws.send(json.dumps({"type": "hello", "site": "shop"}))
        await receive_until(ws, lambda m: m["type"] == "welcome", "visitor welcome")
        return ws

    async def start(ws, department, request):
        await ws.send(json.dumps({"type": "start", "requestId": request, "department": department}))
        accepted, _ = await receive_until(ws, lambda m: m["type"] == "accepted", "start accepted")
        return accepted["conversation"]

    # Support: only carl has the skill, and he is not online: an offline message.
    ws = await visitor()
    await ws.send(json.dumps({"type": "start", "requestId": "o1", "department": "support", "question": "Does the printer work with Linux?"}))
    offline = (await receive_until(ws, lambda m: m["type"] == "accepted", "start accepted"))[0]["conversation"]
    await receive_until(ws, lambda m: m["type"] == "offline", "offline notice")
    await ws.send(json.dumps({"type": "send", "conversation": offline, "clientMessageId": "o1", "text": "Please call me back."}))
    answer, _ = await receive_until(ws, lambda m: m["type"] in ("accepted", "error"), "offline message")
    check(answer["type"] == "accepted" and answer["sequence"] == 2, "with nobody online the visitor leaves an offline message (after the pre-chat question)")
    await ws.close()

    async with websockets.connect(uri) as console:
        await console.send(json.dumps({"type": "hello", "token": operator_token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "online")
        # Anna takes three chats at most: the fourth visitor waits and is told their place.
        widgets = [await visitor() for _ in range(4)]
        conversations = [await start(w, "sales", f"q{n}") for n, w in enumerate(widgets)]
        queued, _ = await receive_until(widgets[3], lambda m: m["type"] == "queued", "queue position")
        # (The estimate follows recent handle times; the demo's first chat lasted a moment.)
        check(queued["position"] == 1 and queued["estimatedWaitSeconds"] >= 0, "a waiting visitor is told their position and estimated wait")

        first = conversations[0]
        await console.send(json.dumps({"type": "accept", "conversation": first}))
        await receive_until(widgets[0], lambda m: m["type"] == "assigned", "assigned")
        await widgets[0].send(json.dumps({"type": "typing", "conversation": first, "typing": True}))
        typing, _ = await receive_until(console, lambda m: m["type"] == "typing", "typing")
        check(typing["typing"] and typing["author"]["kind"] == "visitor", "the operator sees the visitor typing")
        await console.send(json.dumps({"type": "read", "conversation": first, "sequence": 1}))
        read, _ = await receive_until(widgets[0], lambda m: m["type"] == "read", "read receipt")
        check(read["sequence"] == 1 and read["author"]["kind"] == "operator", "the visitor sees what the operator has read")
        await console.send(json.dumps({"type": "transfer", "conversation": first, "toDepartment": "billing", "note": "invoice question"}))
        transferred, _ = await receive_until(widgets[0], lambda m: m["type"] == "transferred", "transferred")
        check(transferred["toDepartment"] == "billing", "a transfer to a department is announced to the visitor")
        for w in widgets:
            await w.close()


async def files_and_canned(address, admin_token, operator_token):
    """Attachments over HTTP (limits, types, who may read them) and the admin's canned-response API."""
    uri = f"ws://{address}/ws"
    async with websockets.connect(uri) as widget:
        await widget.send(json.dumps({"type": "hello", "site": "shop"}))
        welcome, _ = await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome")
        token = welcome["token"]
        await widget.send(json.dumps({"type": "start", "requestId": "f", "department": "sales", "question": "See my screenshot"}))
        conversation = (await receive_until(widget, lambda m: m["type"] == "accepted", "start accepted"))[0]["conversation"]
        png = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 100
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "image/png", "X-File-Name": "screen%20shot.png"}
        path = f"/api/attachments/{conversation}"
        check(http(address, "POST", path, png, {"Content-Type": "image/png"})[0] == 401, "an upload without a token is 401")
        check(http(address, "POST", path, b"<script>", dict(auth, **{"Content-Type": "text/html"}))[0] == 415, "an upload of HTML is refused with 415")
        check(http(address, "POST", path, b"x" * (512 * 1024 + 1), auth)[0] == 413, "an upload over 512 KiB is refused with 413")
        status, body = http(address, "POST", path, png, dict(auth, **{"X-Client-Message-Id": "up-1"}))
        check(status == 200 and json.loads(body)["sequence"] == 2, "an upload is stored as the conversation's next event")
        check(json.loads(http(address, "POST", path, png, dict(auth, **{"X-Client-Message-Id": "up-1"}))[1])["sequence"] == 2,
              "a retried upload (same client message id) is stored once")
        event, _ = await receive_until(widget, lambda m: m["type"] == "attachment", "attachment event")
        check(event["attachment"]["name"] == "screen shot.png" and event["attachment"]["size"] == len(png), "the event describes the file")
        file_path = f"/api/attachments/{conversation}/{event['attachment']['id']}"
        status, body, headers = http(address, "GET", file_path, headers={"Authorization": f"Bearer {token}"}, with_headers=True)
        check(status == 200 and body == png and headers["Content-Type"] == "image/png", "the visitor downloads the file")
        check(headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Security-Policy"] == "sandbox", "files are served so a browser never runs them")
        check(http(address, "GET", file_path, headers={"Authorization": f"Bearer {admin_token}"})[0] == 200, "the site's admin may read the file")
        check(http(address, "GET", file_path, headers={"Authorization": f"Bearer {operator_token}"})[0] == 404,
              "an operator who never had the chat may not")
        async with websockets.connect(uri) as other:
            await other.send(json.dumps({"type": "hello", "site": "shop"}))
            stranger = (await receive_until(other, lambda m: m["type"] == "welcome", "welcome"))[0]["token"]
        check(http(address, "GET", file_path, headers={"Authorization": f"Bearer {stranger}"})[0] == 404, "another visitor may not read the file")
        await widget.send(json.dumps({"type": "attach", "conversation": conversation, "clientMessageId": "ws", "name": "a.png",
                                      "contentType": "image/png", "data": "AAAA"}))
        refused, _ = await receive_until(widget, lambda m: m["type"] == "error", "attach over the socket")
        check(refused["code"] == "not_supported", "files cannot be sent over the socket")

    admin = {"Authorization": f"Bearer {admin_token}"}
    check(http(address, "PUT", "/api/admin/canned/returns", json.dumps({"text": "30 days, free."}).encode(), admin)[0] == 200, "an admin saves a canned response")
    check(http(address, "PUT", "/api/admin/canned/bad%20name", json.dumps({"text": "x"}).encode(), admin)[0] == 400, "a shortcut with a space is refused")
    listing = json.loads(http(address, "GET", "/api/admin/canned", headers=admin)[1])
    check({"shortcut": "returns", "text": "30 days, free.", "scope": "site"} in listing["items"], "the admin lists the site's canned responses")
    check(http(address, "DELETE", "/api/admin/canned/returns", headers=admin)[0] == 200, "an admin deletes a canned response")
    check(http(address, "DELETE", "/api/admin/canned/returns", headers=admin)[0] == 404, "deleting it again is 404")
    check(http(address, "GET", "/api/admin/canned", headers={"Authorization": f"Bearer {operator_token}"})[0] == 403,
          "an operator is not an admin")


def main():
    with tempfile.TemporaryDirectory() as data:
        process, address = start_routerd(data, os.path.join(ROOT, "Tests", "e2e"))
        try:
            check(http(address, "GET", "/healthz")[0] == 200, "/healthz answers 200")
            check(http(address, "GET", "/metrics")[1].startswith(b"# TYPE"), "/metrics speaks the Prometheus text format")
            check(http(address, "GET", "/nope.html")[0] == 404, "a missing file is 404")
            check(http(address, "GET", "/chat_flow.py")[0] == 200, "static files are served")
            check(http(address, "DELETE", "/healthz")[0] == 405, "a wrong method is 405")
            check(raw_http(address, b"GARBAGE\r\n\r\n").startswith("HTTP/1.1 400"), "a malformed request line is 400")
            for size in (b"-1", b"+5", b"-0", b"0x5"):
                answer = raw_http(address, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n")
                check(answer.startswith("HTTP/1.1 400") and http(address, "GET", "/healthz")[0] == 200,
                      f"a chunk size of {size.decode()} is 400 and the server stays up")
            check(b"HTTP/1.1 429" in pipelined(address, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 150), "a request flood on one connection gets 429")
            check(raw_http(address, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").startswith("HTTP/1.1 431"), "oversized headers are 431")
            check(raw_http(address, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
                  .startswith("HTTP/1.1 400"), "an upgrade without a key is 400")
            bad_frames(address)
            asyncio.run(chat(address))
            # The next flows need the operator's status fresh: log in again.
            status, body = http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": "anna", "password": "anna-demo"}).encode())
            asyncio.run(more_flows(address, json.loads(body)["token"]))
            status, body = http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": "ben", "password": "ben-demo"}).encode())
            check(status == 200 and json.loads(body)["role"] == "operator", "a demo operator who is not the admin logs in as an operator")
            ben_token = json.loads(body)["token"]
            status, body = http(address, "POST", "/api/login", json.dumps({"site": "shop", "operator": "anna", "password": "anna-demo"}).encode())
            asyncio.run(files_and_canned(address, json.loads(body)["token"], ben_token))
            login_throttle(address)
            process.send_signal(signal.SIGTERM)
            check(process.wait(timeout=TIMEOUT) == 0, "SIGTERM drains and exits 0")
        finally:
            if process.poll() is None:
                process.kill()
    split_processes()
    print("e2e: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
