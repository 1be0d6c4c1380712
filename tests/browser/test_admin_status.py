"""The admin's live cluster status page in real Chromium, against a 2-node cluster with 2
Redis nodes: everything healthy, then a Redis node killed shows up without a reload (issue 6)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from playwright.async_api import expect

from tests.support.cluster import Cluster
from tests.support.processes import ROOT

pytestmark = pytest.mark.browser


def create_staff_user(db_path: str) -> None:
    env = {
        **os.environ,
        "DJANGO_DB_PATH": db_path,
        "DJANGO_SUPERUSER_PASSWORD": "admin-pass-1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "admin",
         "--email", "admin@example.com"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def cluster():
    started = Cluster(["n1", "n2"], redis_count=2).start()
    yield started
    started.cleanup()


async def test_status_page_is_live(cluster, pages):
    n1 = cluster.nodes["n1"]
    create_staff_user(str(n1.db_path))
    await cluster.wait_for_members(["n1", "n2"], via="n1")
    page = await pages.new_page()
    await page.goto(n1.http_url("/admin/realtime/clusterstatus/"))
    await page.fill("#id_username", "admin")
    await page.fill("#id_password", "admin-pass-1")
    await page.click("input[type=submit]")
    await expect(page.locator("#rt-mode")).to_have_text("cluster", timeout=10_000)
    for name in ("n1", "n2"):
        row = page.locator(f'#rt-nodes tr[data-node="{name}"]')
        await expect(row).to_contain_text("alive", timeout=5_000)
    dead, alive = cluster.redis[0].address, cluster.redis[1].address
    for address in (dead, alive):
        cells = page.locator(f'#rt-redis tr[data-redis="{address}"] td[data-health]')
        await expect(cells).to_have_count(2, timeout=5_000)
        for index in range(2):
            await expect(cells.nth(index)).to_have_attribute("data-health", "healthy")
    await expect(page.locator(".rt-chart")).to_have_count(2, timeout=5_000)
    published = page.locator('#rt-counters tr[data-counter="layer_published"] td')
    await expect(published).to_have_count(3)

    page_loads = []
    page.on("load", lambda _: page_loads.append(time.monotonic()))
    cluster.redis[0].kill()
    killed_at = time.monotonic()
    unhealthy = page.locator(f'#rt-redis tr[data-redis="{dead}"] td[data-health="unhealthy"]')
    await expect(unhealthy).to_have_count(2, timeout=3_000)
    elapsed = time.monotonic() - killed_at
    assert elapsed < 3.0, f"the page showed the dead Redis node after {elapsed:.1f}s"
    assert page_loads == [], "the page reloaded"
    still = page.locator(f'#rt-redis tr[data-redis="{alive}"] td[data-health="healthy"]')
    await expect(still).to_have_count(2)

    await page.goto(n1.http_url("/admin/realtime/healthevent/?kind=redis"))
    entry = page.locator("#result_list tbody tr", has_text=f"127.0.0.1:{cluster.redis[0].port}")
    await expect(entry.first).to_be_visible(timeout=5_000)
    await expect(entry.first).to_contain_text("n1")
