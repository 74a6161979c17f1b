#!/usr/bin/env python3
"""The widget, the console and the demo shop in a real browser (Debian's chromium and
chromium-driver, driven by Selenium) against `routerd dev`. Run by `make test`.

A shopper opens a product page, adds it to the cart and starts a chat in billing; an
operator logs in to the console, sees the visitor and the cart value, accepts the offer,
answers with a canned response and sends the shopper to another page; both see every
message once and in order; the shopper reloads mid-chat and the chat goes on; the chat
ends with a rating. Also: the offline form, a proactive invitation, an attachment, and a
phone-sized screen. Screenshots of each step go to artifacts/screenshots/ (not committed).
Every wait is bounded; the first failed check stops the run with a non-zero exit."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import ROOT, check, start_routerd

SHOTS = os.path.join(ROOT, "artifacts", "screenshots")
TIMEOUT = 15
# A 1x1 PNG, the "screenshot" the shopper attaches.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a4f2d50000000049454e44ae426082")


def noisy_png(width, height):
    """A PNG that does not compress (random pixels): a phone photo's size in a test."""
    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    rows = b"".join(b"\0" + os.urandom(width * 3) for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


class CuttableProxy:
    """A TCP relay in front of the gateway whose connections the test can cut at once: a
    flaky network as the browser sees it (Chrome's offline emulation leaves open WebSockets
    alone)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.sockets = []
        self.lock = threading.Lock()
        self.holding = False  # while true, new connections are dropped at once
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.holding:
                client.close()
                continue
            server = socket.create_connection(self.upstream, timeout=TIMEOUT)
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, hold=False):
        self.holding = hold
        with self.lock:
            cut, self.sockets = self.sockets, []
        for s in cut:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def browser(width, height, phone=False):
    options = webdriver.ChromeOptions()
    if phone:
        # A desktop window cannot be made this narrow: emulate the phone's screen instead.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 3}})
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
                 "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


def wait(driver, condition, what):
    def looked_at_again(d):
        # A page that reloads (a login) leaves elements found a moment before stale: look
        # again. Chromium sometimes reports that as a plain WebDriverException ("Node with
        # given id does not belong to the document") rather than as a stale element.
        try:
            return condition(d)
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return False
            raise
    try:
        return WebDriverWait(driver, TIMEOUT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(looked_at_again)
    except TimeoutException:
        shot(driver, "failed-" + re.sub(r"\W+", "-", what)[:60])
        raise AssertionError(f"timed out: {what}")


step_number = 0


def shot(driver, name):
    global step_number
    step_number += 1
    driver.save_screenshot(os.path.join(SHOTS, f"{step_number:02d}-{name}.png"))


def widget(driver, selector):
    """An element inside the widget's shadow root (the shop's page cannot see into it)."""
    return driver.execute_script("const h = document.getElementById('switchboard-widget'); return h && h.shadowRoot.querySelector(arguments[0]);", selector)


def widget_all_text(driver, selector):
    return driver.execute_script(
        "const h = document.getElementById('switchboard-widget'); return h ? [...h.shadowRoot.querySelectorAll(arguments[0])].map(e => e.querySelector('.body') ? e.querySelector('.body').textContent : e.textContent) : [];",
        selector)


def console_log_texts(driver):
    return driver.execute_script("return [...document.querySelectorAll('.chat:not([hidden]) .msg')].map(e => e.firstChild.textContent)")


UNLABELLED = """
const root = arguments[0] === 'widget' ? document.getElementById('switchboard-widget').shadowRoot : document;
const name = (el) => el.getAttribute('aria-label') || el.closest('label') || (el.id && root.querySelector(`label[for="${el.id}"]`))
  || (el.tagName === 'BUTTON' && el.textContent.trim());
return [...root.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && !name(el)).map((el) => el.outerHTML.slice(0, 80));
"""


def login(driver, base, page, operator, password):
    driver.get(f"{base}/{page}")
    driver.find_element(By.NAME, "operator").send_keys(operator)
    driver.find_element(By.NAME, "password").send_keys(password + Keys.ENTER)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        os.unlink(os.path.join(SHOTS, old))
    data = tempfile.mkdtemp(prefix="switchboard-browser-")
    server, address = start_routerd(data, os.path.join(ROOT, "web"))
    base = f"http://{address}"
    host, port = base[len("http://"):].split(":")
    proxy = CuttableProxy((host, int(port)))
    shopper = operator = phone = second = None
    try:
        shopper = browser(1280, 900)
        operator = browser(1400, 900)

        # The operator is online first, so billing shows as online in the widget.
        login(operator, base, "console.html", "carl", "carl-demo")
        wait(operator, lambda d: d.find_element(By.ID, "link").text == "connected", "the console connects")
        wait(operator, lambda d: "/hi" in d.find_element(By.ID, "canned").text, "the console lists the site's canned responses")
        operator.find_element(By.CSS_SELECTOR, "#canned-form input[name=shortcut]").send_keys("hold")
        operator.find_element(By.CSS_SELECTOR, "#canned-form textarea[name=text]").send_keys("A card hold drops off within 5 days, {visitor}.")
        operator.find_element(By.CSS_SELECTOR, "#canned-form button").click()
        wait(operator, lambda d: "/hold" in d.find_element(By.ID, "canned").text, "an operator saves a personal canned response")
        shot(operator, "console-logged-in")

        # The shopper: product page, cart, widget.
        shopper.get(f"{proxy.address}/shop/kettle.html")
        wait(shopper, lambda d: widget(d, ".dot.on") is not None, "the launcher shows that someone is online")
        shopper.find_element(By.ID, "add").click()
        shopper.find_element(By.ID, "add").click()
        wait(shopper, lambda d: "2 items" in d.find_element(By.CSS_SELECTOR, ".cart-count").text, "the cart has two kettles")
        check(shopper.execute_script("return getComputedStyle(document.getElementById('switchboard-widget').shadowRoot.querySelector('.launcher')).backgroundColor")
              == "rgb(11, 87, 208)", "the shop's `button {background: … !important}` does not reach the widget's launcher")
        shot(shopper, "shop-product-page")

        # The console sees the visitor and the cart value before any chat.
        wait(operator, lambda d: "cart €119.80" in d.find_element(By.ID, "visitors").text, "the console lists the visitor with the cart value")
        check("Copper kettle" in operator.find_element(By.ID, "visitors").text, "the console shows the visitor's current page")
        shot(operator, "console-sees-visitor")

        widget(shopper, ".launcher").click()
        wait(shopper, lambda d: widget(d, ".prechat") is not None and widget(d, ".prechat").is_displayed(), "the pre-chat form opens")
        options = shopper.execute_script("return [...document.getElementById('switchboard-widget').shadowRoot.querySelectorAll('select[name=department] option')].map(o => o.textContent)")
        check(any(o.startswith("Billing — online") for o in options) and any(o.startswith("Sales — offline") for o in options),
              f"departments show who is online: {options}")
        widget(shopper, "input[name=name]").send_keys("Maria")
        widget(shopper, "input[name=email]").send_keys("maria@example.com")
        Select(widget(shopper, "select[name=department]")).select_by_value("billing")
        widget(shopper, "textarea[name=question]").send_keys("Was I charged twice for my kettle?")
        shot(shopper, "widget-prechat-form")
        check(shopper.execute_script(UNLABELLED, "widget") == [], "every control of the widget has a label a screen reader can say")
        widget(shopper, "textarea[name=question]").send_keys(Keys.SHIFT + Keys.TAB)
        check(shopper.execute_script("return document.getElementById('switchboard-widget').shadowRoot.activeElement.name") == "department",
              "the form is keyboard-navigable (Shift+Tab from the question reaches the department)")
        widget(shopper, ".start").click()
        wait(shopper, lambda d: widget(d, ".chat").is_displayed(), "the chat view opens")
        wait(shopper, lambda d: "Was I charged twice for my kettle?" in widget_all_text(d, ".msg"), "the question is the first message")

        # The operator gets the offer with a countdown and accepts.
        wait(operator, lambda d: "s to accept" in d.find_element(By.ID, "offers").text, "the offer arrives with a countdown")
        check("Maria" in operator.find_element(By.ID, "offers").text, "the offer names the visitor")
        check(operator.title.startswith("(1) "), f"the console's title counts the waiting offer: {operator.title!r}")
        shot(operator, "console-offer")
        operator.find_element(By.CSS_SELECTOR, "#offers button").click()
        wait(operator, lambda d: "Was I charged twice for my kettle?" in console_log_texts(d), "the accepted chat shows the visitor's question")
        wait(operator, lambda d: "€119.80" in d.find_element(By.ID, "visitor-info").text, "the visitor panel shows the cart value")
        check(operator.execute_script(UNLABELLED, "console") == [], "every control of the console has a label")
        check("maria@example.com" in operator.find_element(By.ID, "visitor-info").text, "the visitor panel shows the e-mail")
        check("Copper kettle" in operator.find_element(By.ID, "visitor-info").text, "the visitor panel shows the pages visited")
        wait(shopper, lambda d: "Carl" in widget(d, ".status").text, "the shopper sees who took the chat")

        # A canned response: /hi + Tab inserts the text with the visitor's name filled in.
        box = operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .text")
        box.send_keys("/hi")
        wait(operator, lambda d: d.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .canned-suggestions").is_displayed(), "canned suggestions appear after /")
        box.send_keys(Keys.TAB)
        check(box.get_attribute("value") == "Hello Maria, I'm Carl. How can I help you today?", f"the canned response is filled in: {box.get_attribute('value')!r}")
        box.send_keys(Keys.ENTER)
        wait(shopper, lambda d: "Hello Maria, I'm Carl. How can I help you today?" in widget_all_text(d, ".msg"), "the shopper gets the canned answer")

        # The shopper answers; the operator sends them to the shipping page.
        text = widget(shopper, ".text")
        text.send_keys("Yes, order 4711." + Keys.ENTER)
        wait(operator, lambda d: "Yes, order 4711." in console_log_texts(d), "the operator gets the shopper's answer")
        operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .text").send_keys("Let me check. Meanwhile, here are our delivery terms." + Keys.ENTER)
        operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .nav-url").send_keys("/shop/shipping.html")
        operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .navigate").click()
        wait(shopper, lambda d: widget(d, ".suggest .go") is not None, "the widget asks before going to the suggested page")
        shot(shopper, "widget-page-suggestion")
        widget(shopper, ".suggest .go").click()
        wait(shopper, lambda d: d.current_url.endswith("/shop/shipping.html"), "the shopper is on the suggested page")
        wait(shopper, lambda d: widget(d, ".chat") is not None and widget(d, ".chat").is_displayed()
             and "Let me check. Meanwhile, here are our delivery terms." in widget_all_text(d, ".msg"), "the chat continues on the new page")
        wait(operator, lambda d: "Shipping and returns" in d.find_element(By.ID, "visitor-info").text, "the console sees the new page")

        # A screenshot attached by the shopper shows up as an image on both sides.
        upload = os.path.join(data, "screenshot.png")
        with open(upload, "wb") as f:
            f.write(PNG)
        shopper.execute_script("arguments[0].classList.remove('sr')", widget(shopper, ".file"))
        widget(shopper, ".file").send_keys(upload)
        wait(operator, lambda d: d.find_elements(By.CSS_SELECTOR, ".chat:not([hidden]) .msg img[alt='screenshot.png']"), "the operator sees the attached image")
        wait(shopper, lambda d: d.execute_script("return !!document.getElementById('switchboard-widget').shadowRoot.querySelector('.msg img')"),
             "the shopper sees the image preview")
        big = os.path.join(data, "photo.png")
        with open(big, "wb") as f:
            f.write(noisy_png(1200, 900))
        check(os.path.getsize(big) > 3 * 512 * 1024, "the test photo is well over the 512 KiB limit")
        widget(shopper, ".file").send_keys(big)
        wait(operator, lambda d: d.find_elements(By.CSS_SELECTOR, ".chat:not([hidden]) .msg img[alt='photo.jpg']"),
             "a large photo is shrunk to fit the limit and arrives as an image")

        # Reload mid-chat: the same conversation, every message once and in order.
        shopper.refresh()
        expected = ["Was I charged twice for my kettle?", "Hello Maria, I'm Carl. How can I help you today?", "Yes, order 4711.",
                    "Let me check. Meanwhile, here are our delivery terms."]
        wait(shopper, lambda d: widget(d, ".chat") is not None and "Let me check. Meanwhile, here are our delivery terms." in widget_all_text(d, ".msg"),
             "after a reload the conversation is back")
        time.sleep(0.5)  # let any duplicate arrive before counting (the check below is what must hold)
        messages = [t for t in widget_all_text(shopper, ".msg.visitor, .msg.operator") if t in expected]
        check(messages == expected, f"the shopper sees every message once and in order: {messages}")
        operator_messages = [t for t in console_log_texts(operator) if t in expected]
        check(operator_messages == expected, f"the operator sees every message once and in order: {operator_messages}")
        widget(shopper, ".text").send_keys("Thanks!" + Keys.ENTER)
        wait(operator, lambda d: "Thanks!" in console_log_texts(d), "after the reload the chat goes on")

        # A flaky network: the shopper goes offline, the operator writes, the shopper comes back.
        proxy.cut(hold=True)
        wait(shopper, lambda d: "reconnecting" in widget(d, ".status").text, "the widget notices the lost connection")
        operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .text").send_keys("Found it: one charge is a hold, it drops off." + Keys.ENTER)
        box = operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .text")
        box.send_keys("/hol" + Keys.TAB)
        check(box.get_attribute("value") == "A card hold drops off within 5 days, Maria.", "the operator's personal canned response is filled in")
        box.send_keys(Keys.ENTER)
        wait(operator, lambda d: "Found it: one charge is a hold, it drops off." in console_log_texts(d), "the operator's message is stored")
        check("Found it: one charge is a hold, it drops off." not in widget_all_text(shopper, ".msg"), "the offline shopper has not got it")
        proxy.holding = False
        wait(shopper, lambda d: "A card hold drops off within 5 days, Maria." in widget_all_text(d, ".msg"), "after the network returns the missed messages arrive")
        expected += ["Found it: one charge is a hold, it drops off.", "A card hold drops off within 5 days, Maria."]
        expected.insert(len(expected) - 2, "Thanks!")
        messages = [t for t in widget_all_text(shopper, ".msg.visitor, .msg.operator") if t in expected]
        check(messages == expected, f"after the outage still every message once and in order: {messages}")
        shot(shopper, "widget-after-reload")
        shot(operator, "console-chat")

        # A second shopper: two chats in tabs; news in the other tab shows as an unread count.
        second = browser(1000, 800)
        second.get(f"{base}/shop/chair.html")
        wait(second, lambda d: widget(d, ".launcher") is not None, "the second shopper's widget loads")
        widget(second, ".launcher").click()
        wait(second, lambda d: widget(d, "select[name=department] option") is not None, "departments listed for the second shopper")
        widget(second, "input[name=name]").send_keys("Jonas")
        Select(widget(second, "select[name=department]")).select_by_value("billing")
        widget(second, "textarea[name=question]").send_keys("Can I pay by invoice?")
        widget(second, ".start").click()
        wait(operator, lambda d: "Jonas" in d.find_element(By.ID, "offers").text, "the second offer arrives")
        operator.find_element(By.CSS_SELECTOR, "#offers button").click()
        wait(operator, lambda d: "Can I pay by invoice?" in console_log_texts(d), "the second chat opens in its own tab")
        check(len(operator.find_elements(By.CSS_SELECTOR, "#tabs [role=tab]")) == 2, "two chats, two tabs")
        widget(shopper, ".text").send_keys("One more thing." + Keys.ENTER)
        wait(operator, lambda d: d.find_element(By.CSS_SELECTOR, "#tabs [role=tab]:first-child .unread").text == "1",
             "a message in the other chat shows as 1 unread on its tab")
        check(operator.title.startswith("(1) "), f"the title counts the unread message: {operator.title!r}")
        shot(operator, "console-two-tabs")
        operator.find_element(By.CSS_SELECTOR, "#tabs [role=tab]:first-child").click()
        wait(operator, lambda d: not d.find_elements(By.CSS_SELECTOR, "#tabs [role=tab]:first-child .unread"), "opening the tab clears its count")
        check("One more thing." in console_log_texts(operator), "the first chat shows the new message")

        # The operator ends the chat while the shopper is away again; they learn it on return.
        proxy.cut(hold=True)
        wait(shopper, lambda d: "reconnecting" in widget(d, ".status").text, "the widget notices the second outage")
        operator.find_element(By.CSS_SELECTOR, ".chat:not([hidden]) .end").click()
        operator.switch_to.alert.accept()
        wait(operator, lambda d: "The chat has ended." in console_log_texts(d), "the console shows the chat ended")
        proxy.holding = False
        wait(shopper, lambda d: widget(d, ".done").is_displayed(), "back online, the shopper sees the chat has ended")
        shopper.execute_script("document.getElementById('switchboard-widget').shadowRoot.getElementById('sb-star-5').click()")
        widget(shopper, ".rating textarea").send_keys("Quick and kind.")
        widget(shopper, ".rating button").click()
        wait(shopper, lambda d: "Thank you for your rating" in widget(d, ".rating-done").text, "the rating is accepted")
        lit = shopper.execute_script("return document.getElementById('switchboard-widget').shadowRoot.querySelectorAll('.stars label.lit').length")
        check(lit == 5, f"five stars light up for a rating of 5, not only the fifth ({lit} lit)")
        check(not widget(shopper, ".rating button").is_displayed(), "once the rating is taken, its button goes away")
        widget(shopper, ".mail button").click()
        wait(shopper, lambda d: "on its way to maria@example.com" in widget(d, ".mail-done").text, "the transcript request is accepted")
        outbox = os.path.join(data, "outbox")
        mails = [f for f in os.listdir(outbox) if f.endswith(".eml")]
        check(len(mails) == 1, "the transcript e-mail is in the outbox")
        with open(os.path.join(outbox, mails[0]), encoding="utf-8") as f:
            mail = f.read()
        check("To: maria@example.com" in mail and "Yes, order 4711." in mail, "the e-mail holds the transcript")
        # Every line has its time (this year, UTC) and its sequence number: it once read
        # "[?] #0" throughout (an untyped round trip lost the numbers).
        lines = [l for l in mail.replace("=\r\n", "").replace("=\n", "").splitlines() if l.startswith("[")]
        year = time.strftime("%Y", time.gmtime())
        check(lines and all(re.match(r"\[" + year + r"-\d\d-\d\dT\d\d:\d\d:\d\dZ\] #[1-9]\d* ", l) for l in lines)
              and any("Yes, order 4711." in l for l in lines),
              "each line of the e-mailed transcript has its time and sequence number")
        shot(shopper, "widget-rated")

        # A proactive invitation: the operator invites the shopper from the visitors list.
        wait(operator, lambda d: d.find_elements(By.CSS_SELECTOR, "#visitors button.invite"), "the visitor can be invited again")
        operator.find_element(By.CSS_SELECTOR, "#visitors button.invite").click()
        # The list changes while the shopper browses (it is polled): should it have been
        # rebuilt under the click, the operator clicks again, as a person would.
        def invitation_shown(d):
            if widget(d, ".invite") is not None and "Can I help" in widget(d, ".invite").text:
                return True
            if time.time() - invitation_shown.clicked > 3:
                invitation_shown.clicked = time.time()
                for button in operator.find_elements(By.CSS_SELECTOR, "#visitors button.invite")[:1]:
                    button.click()
            return False
        invitation_shown.clicked = time.time()
        wait(shopper, invitation_shown, "the widget shows the invitation")
        shot(shopper, "widget-invitation")

        # Nobody online in sales: the offline form makes a conversation for later.
        phone = browser(390, 844, phone=True)
        phone.get(f"{base}/shop/lamp.html")
        wait(phone, lambda d: widget(d, ".launcher") is not None, "the widget loads on a phone-sized screen")
        widget(phone, ".launcher").click()
        wait(phone, lambda d: widget(d, "select[name=department] option") is not None, "the departments are listed")
        Select(widget(phone, "select[name=department]")).select_by_value("sales")
        check(widget(phone, ".offline-note").is_displayed() and widget(phone, ".start").text == "Leave a message",
              "the form turns into an offline message form when nobody is online")
        width = phone.execute_script("return document.getElementById('switchboard-widget').shadowRoot.querySelector('.panel').getBoundingClientRect().width")
        inner = phone.execute_script("return window.innerWidth")
        check(inner == 390 and abs(width - inner) <= 1, f"the panel fills a phone-sized screen ({width} px of {inner} px)")
        widget(phone, "textarea[name=question]").send_keys("Does the lamp come with a bulb?")
        widget(phone, ".start").click()
        check("e-mail" in widget(phone, ".form-error").text, "an offline message needs an e-mail address")
        widget(phone, "input[name=email]").send_keys("leo@example.com")
        shot(phone, "phone-offline-form")
        widget(phone, ".start").click()
        wait(phone, lambda d: "answer your message by e-mail" in widget(d, ".done-text").text, "the offline message is taken for later")
        check(not widget(phone, ".rating").is_displayed(), "a message nobody answered yet asks for no rating")
        shot(phone, "phone-offline-sent")

        # The admin page lists the canned responses the operator used.
        login(operator, base, "admin.html", "anna", "anna-demo")
        wait(operator, lambda d: "/hi" in d.find_element(By.ID, "canned").text, "the admin page lists the canned responses")
        operator.find_element(By.CSS_SELECTOR, "#canned-form input[name=shortcut]").send_keys("returns")
        operator.find_element(By.CSS_SELECTOR, "#canned-form input[name=text]").send_keys("Returns are free within 30 days." + Keys.ENTER)
        wait(operator, lambda d: "/returns" in d.find_element(By.ID, "canned").text, "an admin adds a site-wide canned response")
        wait(operator, lambda d: "rated" in d.find_element(By.ID, "conversations").text or "5/5" in d.find_element(By.ID, "conversations").text,
             "the admin sees the rated conversation")
        shot(operator, "admin")

        print(f"browser flow passed; screenshots in {SHOTS}")
    finally:
        for driver in (shopper, operator, phone, second):
            if driver:
                driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        sys.exit(1)
