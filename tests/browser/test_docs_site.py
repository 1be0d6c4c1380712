"""The documentation site, built as ``make docs`` builds it, opens in Chromium without a
console error or a failed request: the index page and the protocol reference (issue 12)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the built site without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing."""


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site built with warnings as errors into a temporary folder, served on loopback."""
    out = tmp_path_factory.mktemp("docs")
    build = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    build += ["-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / "html")]
    done = subprocess.run(build, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(out / "html"))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


async def open_cleanly(pages, url: str):
    """Open ``url``; fail on a console error, an uncaught exception or a failed request."""
    page = await pages.new_page()
    problems: list[str] = []
    page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    response = await page.goto(url, wait_until="load")
    assert response is not None and response.status == 200
    await page.wait_for_load_state("networkidle")
    console = pages.pages[-1][1]
    errors = [line for line in console if line.startswith(("[error]", "[pageerror]"))]
    assert (errors, problems) == ([], []), f"{url}: {errors + problems}"
    return page


async def test_the_index_page_opens_without_errors(docs_url, pages):
    page = await open_cleanly(pages, f"{docs_url}/index.html")
    assert "realtime" in await page.title()
    assert await page.locator("h1").first.inner_text() == "realtime"
    links = await page.locator(".sidebar-tree a").all_inner_texts()
    for title in ("Quick start", "Tutorial", "Topic guides", "Reference", "API"):
        assert title in links, f"{title!r} not in the navigation: {links}"


async def test_the_protocol_reference_opens_without_errors(docs_url, pages):
    page = await open_cleanly(pages, f"{docs_url}/reference/protocol.html")
    assert (await page.locator("h1").first.inner_text()).startswith("The client protocol (v1)")
    close_codes = page.locator("section#close-codes table")
    for code in ("4001", "4002", "4008", "4010", "4011", "4012", "4029", "1009", "1011"):
        assert await close_codes.get_by_text(code, exact=True).count() == 1, code
    await page.get_by_role("link", name="JavaScript client").first.click()
    await page.wait_for_load_state("load")
    assert Path(page.url).name == "javascript-client.html"
