#!/usr/bin/env python3
"""Two `routerd router` processes in one cluster (membership and presence by gossip over
UDP, the `fast` preset), each with its own `routerd gateway`, as an ops team would run
them: the admin API of one gateway lists both routers; an operator who logs in through the
other router's gateway shows up there as online within moments, and offline once they go;
a router killed with -9 is shown down; the admin page shows the list (screenshot in
artifacts/screenshots/). Run by `make test`; every wait is bounded."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

from browser_flow import SHOTS, browser, wait
from chat_flow import http, mint_token, receive_until, wait_for_line
from support import ROOT, ROUTERD, check

TIMEOUT = 10
SECRET = "the-shop-token-secret-change-me!!"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_router(name, data, gossip, seed, wire):
    # router-1 votes alone in the control plane; router-2 follows its table as an observer.
    # The first placement waits for both, so each serves half the partitions.
    env = {**os.environ, "SWITCHBOARD_DATA": data, "SWITCHBOARD_NODE_ID": name, "SWITCHBOARD_VOTERS": "router-1",
           "SWITCHBOARD_INITIAL_ROUTERS": "router-1,router-2"}
    return subprocess.Popen([ROUTERD, "router", "--config", os.path.join(ROOT, "deploy", "router.example.json"),
                             "--listen", f"127.0.0.1:{wire}", "--http", "127.0.0.1:0", "--gossip", f"127.0.0.1:{gossip}",
                             "--seeds", f"127.0.0.1:{seed}", "--gossipPreset", "fast"], stdout=subprocess.PIPE, text=True, env=env)


def router_listening(process):
    """The router's Wire address, once it serves (after the control plane placed every partition)."""
    line = wait_for_line(process, r'(msg="router listening".*)')
    return line.split("wire=")[1].split()[0]


def start_gateway(wire):
    process = subprocess.Popen([ROUTERD, "gateway", "--config", os.path.join(ROOT, "deploy", "gateway.example.json"),
                                "--listen", "127.0.0.1:0", "--router", wire],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    address = wait_for_line(process, r'msg="gateway listening".* http=http://([0-9.]+:[0-9]+)')
    return process, address


def until(condition, what, seconds=TIMEOUT):
    """Polls a separate process's state (at most `seconds`); returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        value = condition()
        if value:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(what)


def metric(gateway, name):
    status, body = http(gateway, "GET", "/metrics")
    for line in body.decode().splitlines() if status == 200 else []:
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def members(gateway, token):
    status, body = http(gateway, "GET", "/api/admin/cluster", headers={"Authorization": f"Bearer {token}"})
    if status == 503:
        return {}  # the gateway is not linked to its router yet
    if status != 200:
        raise AssertionError(f"GET /api/admin/cluster answered {status}: {body[:200]}")
    return {m["node"]: m for m in json.loads(body)["items"]}


def stable_hash(text):
    """Wire's StableHash: FNV-1a over the UTF-8 bytes, then SplitMix64's finaliser."""
    mask = (1 << 64) - 1
    value = 0xCBF29CE484222325
    for byte in text.encode():
        value = ((value ^ byte) * 0x100000001B3) & mask
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
    return value ^ (value >> 31)


def home_partition(site, operator, partitions=64):
    return stable_hash(f"operator\x1f{site}/{operator}") % partitions


def visitor_partition(site, visitor, partitions=64):
    return stable_hash(f"{site}\x1f{visitor}") % partitions


async def chat_across_routers(chat_gateway, chat_router, owners, console):
    """A shopper whose chat lives on `chat_router` (through its gateway) is offered to the
    operator of `console`, whose home is on the other router: the offer crosses routers."""
    for _ in range(64):
        widget = await websockets.connect(f"ws://{chat_gateway}/ws")
        await widget.send(json.dumps({"type": "hello", "site": "shop"}))
        welcome, _ = await receive_until(widget, lambda m: m["type"] == "welcome", "visitor welcome")
        if owners[visitor_partition("shop", welcome["id"])] == chat_router:
            break
        await widget.close()
    else:
        raise AssertionError("no visitor id landed on the chat's router")
    try:
        await widget.send(json.dumps({"type": "start", "requestId": "r1", "department": "support"}))
        accepted, _ = await receive_until(widget, lambda m: m["type"] in ("accepted", "error"), "start answered")
        check(accepted["type"] == "accepted", f"the chat starts on {chat_router}: {accepted}")
        conversation = accepted["conversation"]
        offer, _ = await receive_until(console, lambda m: m["type"] == "offer", "offer across routers")
        check(offer["conversation"] == conversation, "the operator, homed on the other router, is offered the chat")
        await console.send(json.dumps({"type": "accept", "conversation": conversation}))
        await receive_until(widget, lambda m: m["type"] == "assigned", "the shopper hears who took the chat")
        await widget.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "m1", "text": "Is it in stock?"}))
        await receive_until(console, lambda m: m.get("text") == "Is it in stock?", "the operator sees the shopper's message")
        await console.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "o1", "text": "Yes, two left."}))
        await receive_until(widget, lambda m: m.get("text") == "Yes, two left.", "the shopper sees the reply")
        # The same client message id again (a retry): acknowledged, never a second message.
        await widget.send(json.dumps({"type": "send", "conversation": conversation, "clientMessageId": "m1", "text": "Is it in stock?"}))
        await receive_until(widget, lambda m: m["type"] == "accepted", "the retry is acknowledged")
        await console.send(json.dumps({"type": "chats"}))
        chats, _ = await receive_until(console, lambda m: m["type"] == "chats", "the operator's chats, gathered")
        check([c["conversation"] for c in chats["items"]] == [conversation] and chats["items"][0]["events"] == 2 + 1,
              "the operator's chat list, gathered from both routers, holds the chat once, with its messages (no duplicate)")
        return conversation
    finally:
        await widget.close()


async def operator_online(gateway, token, then, owners, chat_gateway, chat_router):
    """Carl logs in through `gateway`, goes online, is offered a chat that lives on the other
    router, and `then()` runs while he is online."""
    async with websockets.connect(f"ws://{gateway}/ws") as console:
        await console.send(json.dumps({"type": "hello", "token": token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "status accepted")
        started = time.monotonic()
        await chat_across_routers(chat_gateway, chat_router, owners, console)
        check(True, f"a chat on {chat_router} is offered to an operator homed on the other router in {time.monotonic() - started:.2f} s")
        await asyncio.to_thread(then)


def main():
    with tempfile.TemporaryDirectory() as data:
        gossip = [free_udp_port(), free_udp_port()]
        processes = []
        try:
            # Both start together (their Wire ports are fixed: each tells the other by gossip).
            # Below the ephemeral range (32768 and up), where an outgoing connection could take a port picked free.
            wire = 26000 + (os.getpid() % 500) * 2
            router1 = start_router("router-1", os.path.join(data, "r1"), gossip[0], gossip[1], wire)
            router2 = start_router("router-2", os.path.join(data, "r2"), gossip[1], gossip[0], wire + 1)
            processes += [router1, router2]
            wire1, wire2 = router_listening(router1), router_listening(router2)
            gateway1, address1 = start_gateway(wire1)
            gateway2, address2 = start_gateway(wire2)
            processes += [gateway1, gateway2]
            admin = mint_token(SECRET, {"sub": "carl", "site": "shop", "role": "admin"})
            operator = mint_token(SECRET, {"sub": "carl", "site": "shop", "role": "operator", "name": "Carl"})
            status, _ = http(address2, "GET", "/api/admin/cluster", headers={"Authorization": f"Bearer {operator}"})
            check(status == 403, "the member list needs the admin role")

            def both_alive():
                seen = members(address2, admin)
                return seen.get("router-1", {}).get("state") == "alive" and seen.get("router-2", {}).get("self")
            until(both_alive, "router-2 lists router-1 alive and itself")
            check(True, "router-2's gateway lists both routers of the cluster")
            def placed():
                status, body = http(address2, "GET", "/api/admin/partitions", headers={"Authorization": f"Bearer {admin}"})
                return status, json.loads(body)
            until(lambda: placed()[1].get("tableVersion", 0) >= 64, "router-2's table is placed")
            status, table = placed()
            owners = [p["owner"] for p in table["items"]]
            check(status == 200 and table["leader"] == "router-1" and table["role"] == "observer" and len(table["items"]) == 64
                  and set(owners) == {"router-1", "router-2"} and all(p["epoch"] == 1 and p["inSync"] == [p["owner"]] for p in table["items"]),
                  "router-2 follows router-1's table as an observer: 64 partitions over both routers, each at epoch 1")
            for address in (address1, address2):
                until(lambda: metric(address, "switchboard_gateway_table_partitions_placed") == 64, "each gateway learns the table")
            check(metric(address1, "switchboard_gateway_table_version") == table["tableVersion"],
                  "each gateway holds the committed table, pushed by its router")
            home = owners[home_partition("shop", "carl")]
            other = "router-2" if home == "router-1" else "router-1"
            gateway_of = {"router-1": address1, "router-2": address2}

            def while_online():
                took = until(lambda: members(gateway_of[other], admin)[home]["operatorsOnline"] == 1,
                             f"carl, online on {home}, is seen online from {other}")
                check(members(gateway_of[other], admin)[other]["operatorsOnline"] == 0, f"{other}'s own count stays 0")
                check(True, f"an operator online on {home} is seen from {other} by gossip in {took:.1f} s")
                driver = browser(1100, 900)
                try:
                    driver.get(f"http://{address2}/admin.html")
                    driver.execute_script("sessionStorage.setItem('switchboard-admin', arguments[0]); location.reload();", admin)
                    wait(driver, lambda d: "router-1" in d.find_element("id", "cluster").text
                         and "2 of 2 routers alive" in d.find_element("id", "cluster-note").text, "the admin page lists the cluster")
                    check(not driver.find_element("id", "login").is_displayed(), "the admin page shows no login form once logged in")
                    wait(driver, lambda d: "Table version" in d.find_element("id", "control-note").text
                         and d.find_element("id", "partitions").text.count("router-") >= 128, "the admin page shows the partition table")
                    os.makedirs(SHOTS, exist_ok=True)
                    driver.save_screenshot(os.path.join(SHOTS, "cluster-admin.png"))
                    driver.execute_script("document.getElementById('partitions-title').scrollIntoView()")
                    driver.save_screenshot(os.path.join(SHOTS, "cluster-admin-partitions.png"))
                finally:
                    driver.quit()
            # Both through the gateway of a router that owns neither: gateways send each command to its owner.
            asyncio.run(operator_online(gateway_of[other], operator, while_online, owners=owners, chat_gateway=gateway_of[home], chat_router=other))
            status, body = http(address1, "GET", "/api/admin/conversations", headers={"Authorization": f"Bearer {admin}"})
            listed = json.loads(body)
            check(status == 200 and len(listed["items"]) == 1 and "unavailable" not in listed,
                  "the admin's conversation list is gathered from every router")
            # The console closed: after the presence grace (5 s) carl's home says he is offline.
            took = until(lambda: members(gateway_of[other], admin)[home]["operatorsOnline"] == 0, f"carl goes offline as seen from {other}",
                         seconds=TIMEOUT + 5)
            check(True, f"the operator who left is offline on router-2 {took:.1f} s after the console closed (grace included)")

            router1.kill()
            router1.wait(timeout=TIMEOUT)
            took = until(lambda: members(address2, admin)["router-1"]["state"] == "dead", "router-1, killed, is shown down")
            check(True, f"router-1 killed with -9 is shown down from router-2 after {took:.1f} s")
            status, body = http(address2, "GET", "/api/admin/operators", headers={"Authorization": f"Bearer {admin}"})
            listed = json.loads(body)
            check(status == 200 and listed.get("unavailable") == ["router-1"],
                  "with a router down, a gathered listing still answers and names the router that did not")
            driver = browser(1100, 900)
            try:
                driver.get(f"http://{address2}/admin.html")
                driver.execute_script("sessionStorage.setItem('switchboard-admin', arguments[0]); location.reload();", admin)
                wait(driver, lambda d: d.find_element("id", "incomplete").is_displayed()
                     and "router-1 did not answer" in d.find_element("id", "incomplete").text, "the admin page says a router did not answer")
                driver.save_screenshot(os.path.join(SHOTS, "cluster-admin-router-down.png"))
                check(True, "the admin page says which router did not answer, and still shows the rest")
            finally:
                driver.quit()
            for process in (gateway1, gateway2, router2):
                process.send_signal(signal.SIGTERM)
                check(process.wait(timeout=TIMEOUT) == 0, "SIGTERM drains and exits 0")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
    print("cluster flow: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
