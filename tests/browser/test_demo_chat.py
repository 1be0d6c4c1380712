"""The demo chat page in headless Chromium against real daphne processes."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, expect

from tests.support.processes import DaphneNode

pytestmark = pytest.mark.browser

# The connector's first reconnect attempts come every 3 s (fastReconnectInterval); a restarted
# daphne needs a second or two, so a page is back within the first three or four attempts.
RECONNECTED_WITHIN_MS = 25_000


async def start_node(node: DaphneNode) -> DaphneNode:
    await asyncio.to_thread(node.start)
    return node


async def open_chat(pages, node: DaphneNode, name: str, room: str = "1000") -> Page:
    """A page that logged in as ``name`` and joined ``room``."""
    page = await pages.new_page()
    await page.goto(node.http_url("/"))
    await page.fill("#name", name)
    await page.fill("#room", room)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#state")).to_have_text("connected")
    await expect(joined_lines(page, room)).to_have_count(1)
    return page


def joined_lines(page: Page, room: str):
    return page.locator("#messages li.system", has_text=f"Successfully joined the roomId:{room}")


async def send(page: Page, text: str, everyone: bool = False) -> None:
    await page.fill("#text", text)
    await page.set_checked("#everyone", everyone)
    await page.click("#composer button[type=submit]")


async def expect_delivered(page: Page, text: str) -> None:
    """The sender's own line shows the ack: status delivered and a check mark."""
    own = page.locator("#messages li.own", has_text=text)
    await expect(own).to_have_attribute("data-status", "delivered")
    await expect(own.locator(".delivery")).to_have_text("✓")


async def expect_received(page: Page, sender: str, text: str, kind: str = "room") -> None:
    line = page.locator(f"#messages li.{kind}", has_text=text)
    await expect(line).to_have_count(1)
    await expect(line.locator(".who")).to_have_text(sender)


async def test_two_pages_chat_and_chat_again_after_a_server_restart(pages, daphne_nodes):
    node = await start_node(daphne_nodes())
    alice = await open_chat(pages, node, "Alice")
    bob = await open_chat(pages, node, "Bob")

    await send(alice, "hello Bob")
    await expect_received(bob, "Alice", "hello Bob")
    await expect_delivered(alice, "hello Bob")
    await send(bob, "hi Alice <b>not bold</b>")
    await expect_received(alice, "Bob", "hi Alice <b>not bold</b>")
    await expect_delivered(bob, "hi Alice")
    await send(alice, "hello everyone", everyone=True)
    await expect_received(bob, "Alice", "hello everyone", kind="broadcast")
    await expect_delivered(alice, "hello everyone")
    await expect(alice.locator("#messages li.broadcast")).to_have_count(0)  # no echo of our own

    await asyncio.to_thread(node.stop)
    for page in (alice, bob):
        await expect(page.locator("#state")).to_have_text(re.compile(r"^(closed|reconnecting)"))
    restarted = await start_node(daphne_nodes(port=node.port))
    assert restarted.port == node.port
    for page in (alice, bob):
        state = page.locator("#state")
        await expect(state).to_have_text("connected", timeout=RECONNECTED_WITHIN_MS)
        await expect(joined_lines(page, "1000")).to_have_count(2)  # rejoined on `open`
        await expect(page.locator("#attempts")).not_to_have_text("0")

    await send(bob, "back again")
    await expect_received(alice, "Bob", "back again")
    await expect_delivered(bob, "back again")
    await send(alice, "welcome back")
    await expect_received(bob, "Alice", "welcome back")
    await expect_delivered(alice, "welcome back")


async def test_rooms_are_separate_and_latency_is_shown(pages, demo_node):
    alice = await open_chat(pages, demo_node, "Alice", room="r1")
    bob = await open_chat(pages, demo_node, "Bob", room="r1")
    carol = await open_chat(pages, demo_node, "Carol", room="r2")
    await send(alice, "for room r1 only")
    await expect_received(bob, "Alice", "for room r1 only")
    await expect_delivered(alice, "for room r1 only")
    await send(carol, "for room r2 only")
    await expect_delivered(carol, "for room r2 only")
    await expect(alice.locator("#messages li.room", has_text="r2 only")).to_have_count(0)
    await expect(carol.locator("#messages li.room")).to_have_count(0)
    # The page pings every 5 s and shows the measured latency.
    await expect(alice.locator("#latency")).to_have_text(re.compile(r"^\d+ ms$"), timeout=10_000)


async def test_a_refused_message_is_marked_failed(pages, demo_node):
    alice = await open_chat(pages, demo_node, "Alice", room="r3")
    await alice.fill("#text", "x" * 500)
    # The input's maxlength stops a longer text; the server's limit is checked in
    # tests/test_demo_chat.py. Here: a message to a room the page never joined.
    await alice.evaluate("document.getElementById('room-name').textContent = 'not-joined'")
    await alice.click("#composer button[type=submit]")
    own = alice.locator("#messages li.own")
    await expect(own).to_have_attribute("data-status", "failed")
    await expect(own.locator(".delivery")).to_have_text("✗")
    await expect(own.locator(".delivery")).to_have_attribute("title", re.compile("join room"))
