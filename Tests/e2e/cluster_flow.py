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


def start_router(name, data, gossip, seed):
    # router-1 votes alone in the control plane; router-2 follows its table as an observer.
    env = {**os.environ, "SWITCHBOARD_DATA": data, "SWITCHBOARD_NODE_ID": name, "SWITCHBOARD_VOTERS": "router-1"}
    process = subprocess.Popen([ROUTERD, "router", "--config", os.path.join(ROOT, "deploy", "router.example.json"),
                                "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--gossip", f"127.0.0.1:{gossip}",
                                "--seeds", f"127.0.0.1:{seed}", "--gossipPreset", "fast"], stdout=subprocess.PIPE, text=True, env=env)
    line = wait_for_line(process, r'(msg="router listening".*)')
    wire = line.split("wire=")[1].split()[0]
    return process, wire


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


def members(gateway, token):
    status, body = http(gateway, "GET", "/api/admin/cluster", headers={"Authorization": f"Bearer {token}"})
    if status == 503:
        return {}  # the gateway is not linked to its router yet
    if status != 200:
        raise AssertionError(f"GET /api/admin/cluster answered {status}: {body[:200]}")
    return {m["node"]: m for m in json.loads(body)["items"]}


async def operator_online(gateway, token, then):
    """Carl logs in through `gateway`, goes online, and `then()` runs while he is."""
    async with websockets.connect(f"ws://{gateway}/ws") as console:
        await console.send(json.dumps({"type": "hello", "token": token}))
        await receive_until(console, lambda m: m["type"] == "welcome", "operator welcome")
        await console.send(json.dumps({"type": "status", "status": "online"}))
        await receive_until(console, lambda m: m["type"] == "accepted", "status accepted")
        await asyncio.to_thread(then)


def main():
    with tempfile.TemporaryDirectory() as data:
        gossip = [free_udp_port(), free_udp_port()]
        processes = []
        try:
            router1, wire1 = start_router("router-1", os.path.join(data, "r1"), gossip[0], gossip[1])
            router2, wire2 = start_router("router-2", os.path.join(data, "r2"), gossip[1], gossip[0])
            processes += [router1, router2]
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
            owners = {p["owner"] for p in table["items"]}
            check(status == 200 and table["leader"] == "router-1" and table["role"] == "observer" and len(table["items"]) == 64
                  and owners == {"router-1", "router-2"} and all(p["epoch"] == 1 and p["inSync"] == [p["owner"]] for p in table["items"]),
                  "router-2 follows router-1's table as an observer: 64 partitions over both routers, each at epoch 1")

            def while_online():
                took = until(lambda: members(address2, admin)["router-1"]["operatorsOnline"] == 1,
                             "carl, online on router-1, is seen online from router-2")
                check(members(address2, admin)["router-2"]["operatorsOnline"] == 0, "router-2's own count stays 0")
                check(True, f"an operator online on router-1 is seen from router-2 by gossip in {took:.1f} s")
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
            asyncio.run(operator_online(address1, operator, while_online))
            # The console closed: after the presence grace (5 s) router-1 says he is offline.
            took = until(lambda: members(address2, admin)["router-1"]["operatorsOnline"] == 0, "carl goes offline as seen from router-2",
                         seconds=TIMEOUT + 5)
            check(True, f"the operator who left is offline on router-2 {took:.1f} s after the console closed (grace included)")

            router1.kill()
            router1.wait(timeout=TIMEOUT)
            took = until(lambda: members(address2, admin)["router-1"]["state"] == "dead", "router-1, killed, is shown down")
            check(True, f"router-1 killed with -9 is shown down from router-2 after {took:.1f} s")
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
