"""Browser fixtures: Debian's headless Chromium driven by Playwright, daphne nodes, and a
screenshot plus the console log of every page under ``test-artifacts/`` when a test fails."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import ROOT, DaphneNode

ARTIFACTS = ROOT / "test-artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Keep each phase's report on the item, so that fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    reports = (getattr(node, f"report_{when}", None) for when in ("setup", "call"))
    return any(report is not None and report.failed for report in reports)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium, closed after the test."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


class PageRecorder:
    """Opens pages (each in its own browser context: another user) and records their console."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.pages: list[tuple[Page, list[str]]] = []

    async def new_page(self) -> Page:
        """A fresh page whose console messages and uncaught errors are kept."""
        context = await self.browser.new_context()
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
        self.pages.append((page, console))
        return page

    async def save(self, test_name: str, directory: Path) -> None:
        """Write a screenshot and the console log of every page."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        for index, (page, console) in enumerate(self.pages, start=1):
            (directory / f"{stem}-page{index}.console.log").write_text("\n".join(console) + "\n")
            if not page.is_closed():
                await page.screenshot(path=directory / f"{stem}-page{index}.png", full_page=True)


@pytest.fixture
async def pages(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[PageRecorder]:
    """Pages of the test; on failure their screenshots and console logs go to test-artifacts/."""
    recorder = PageRecorder(browser)
    yield recorder
    if _failed(request.node):
        await recorder.save(request.node.name, ARTIFACTS)


@pytest.fixture
def daphne_nodes() -> Iterator[Callable[..., DaphneNode]]:
    """A factory of daphne nodes (not started), every one stopped and removed after the test."""
    made: list[DaphneNode] = []

    def make(**kwargs: object) -> DaphneNode:
        node = DaphneNode(**kwargs)  # type: ignore[arg-type]
        made.append(node)
        return node

    yield make
    for node in made:
        node.cleanup()
