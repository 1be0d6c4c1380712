"""Cross-site WebSocket hijacking, tried with a real browser: a page of another site opens a
WebSocket to the server (the browser would send the victim's cookies along) and is refused
because of its Origin; the server's own page connects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import DaphneNode
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Opens a WebSocket and resolves to "open" or "closed <code>".
TRY_SOCKET = """url => new Promise(resolve => {
    const ws = new WebSocket(url);
    ws.onopen = () => { resolve("open"); ws.close(); };
    ws.onclose = event => resolve("closed " + event.code);
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class AttackerPage(BaseHTTPRequestHandler):
    """Serves an innocent-looking page."""

    def do_GET(self) -> None:
        body = b"<!doctype html><p>innocent page</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def attacker_site() -> Iterator[str]:
    """Another site: loopback (so the browser's private-network rules do not interfere),
    but an origin that is not in ALLOWED_HOSTS."""
    server = ThreadingHTTPServer(("127.0.0.2", 0), AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def rejected_handshakes(node: DaphneNode) -> int:
    return node.log_tail(10_000).count("WSREJECT")


def test_page_of_another_site_cannot_open_the_socket(browser, demo_node, attacker_site):
    before = rejected_handshakes(demo_node)
    page = browser.new_page()
    page.goto(attacker_site)
    outcome = page.evaluate(TRY_SOCKET, demo_node.ws_url("/ws/?id=victim"))
    page.close()
    assert outcome == "closed 1006"  # browsers report a refused handshake as 1006
    # And it was the server that refused it (HTTP 403), not the browser.
    wait_until(
        lambda: rejected_handshakes(demo_node) == before + 1, 5, "the server refused nothing"
    )


def test_page_of_the_site_itself_opens_the_socket(browser, demo_node):
    page = browser.new_page()
    page.goto(demo_node.http_url("/"))
    outcome = page.evaluate(TRY_SOCKET, demo_node.ws_url("/ws/?id=owner"))
    page.close()
    assert outcome == "open"
