"""Operations without Redis: admin access rules, the status data, the health event log and
the management commands' errors in single-node mode."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from realtime.cluster.health_log import PRUNE_EVERY
from realtime.hub import Hub
from realtime.metrics import DROP_COUNTERS
from realtime.models import HealthEvent
from realtime.status import cluster_status
from tests.support.processes import run_manage

STATUS_URL = "/admin/realtime/clusterstatus/"
DATA_URL = "/admin/realtime/clusterstatus/data/"


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def plain_user(db):
    return User.objects.create_user("plain", password="pw")


class TestAdminAccess:
    def test_anonymous_sent_to_login_and_refused_data(self, client, db):
        page = client.get(STATUS_URL)
        assert page.status_code == 302 and "/admin/login/" in page["Location"]
        data = client.get(DATA_URL)
        assert data.status_code == 403 and data.json() == {"error": "Staff members only."}

    def test_non_staff_refused(self, client, plain_user):
        client.force_login(plain_user)
        assert "/admin/login/" in client.get(STATUS_URL)["Location"]
        assert client.get(DATA_URL).status_code == 403

    def test_staff_sees_page_index_entry_and_single_node_data(self, client, staff):
        client.force_login(staff)
        index = client.get("/admin/").content.decode()
        assert "Realtime" in index and STATUS_URL in index
        page = client.get(STATUS_URL)
        assert page.status_code == 200
        assert b'data-url="/admin/realtime/clusterstatus/data/"' in page.content
        data = client.get(DATA_URL).json()
        assert data["mode"] == "single-node"
        assert [n["name"] for n in data["nodes"]] == [data["serving_node"]]
        assert data["redis_nodes"] == [] and data["nodes"][0]["is_self"]

    def test_event_log_changelist_filters(self, client, staff):
        client.force_login(staff)
        HealthEvent.objects.create(
            created=timezone.now(), node="n1", kind="redis", subject="127.0.0.1:6379", healthy=False
        )
        HealthEvent.objects.create(
            created=timezone.now(), node="n2", kind="node_left", subject="n3", healthy=False
        )
        url = "/admin/realtime/healthevent/"
        assert client.get(url).status_code == 200
        filtered = client.get(url, {"kind": "redis", "node": "n1"}).content.decode()
        assert "127.0.0.1:6379" in filtered and ">n3<" not in filtered
        assert client.get(url + "add/").status_code == 403


def test_status_of_a_lone_hub():
    hub = Hub(layer=None, name="solo")
    status = cluster_status(hub)
    assert (status["serving_node"], status["mode"]) == ("solo", "single-node")
    (node,) = status["nodes"]
    assert (node["name"], node["state"], node["connections"], node["redis"]) == (
        "solo",
        "alive",
        0,
        [],
    )
    assert node["counters"]["slow_client_closes"] == 0
    assert "rate_limit_closes" in status["counters"]
    assert node["dropped"] == sum(node["counters"].get(name, 0) for name in DROP_COUNTERS)


def test_drops_are_summed_per_node_and_logged_once_a_second(caplog):
    from realtime.metrics import DropReport, dropped_total

    report = DropReport(logging.getLogger("test.drops"), interval=1.0)
    counters = {"busy_refusals": 0, "layer_channel_full_drops": 0, "layer_published": 10}
    with caplog.at_level(logging.WARNING, "test.drops"):
        assert not report.check(counters)  # the first reading is the baseline
        counters.update(busy_refusals=5, layer_channel_full_drops=2, layer_published=90)
        assert report.check(counters)
        counters["busy_refusals"] = 9
        assert not report.check(counters)  # within the second: counted, not logged yet
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        "Dropped since the last report: busy_refusals=5, layer_channel_full_drops=2"
    )
    assert dropped_total(counters) == 11  # traffic counters are not drops


@pytest.mark.django_db(transaction=True)
class TestHealthLog:
    async def test_events_are_written_without_blocking(self):
        hub = Hub(layer=None, name="logger")
        hub.health_log.record("node_joined", "n2", True, "pid 1")
        hub.health_log.record("redis", "127.0.0.1:1", False, "event=disconnected")
        await hub.health_log.drain()
        await hub.stop()
        rows = [
            (e.node, e.kind, e.subject, e.healthy) async for e in HealthEvent.objects.order_by("id")
        ]
        assert rows == [
            ("logger", "node_joined", "n2", True),
            ("logger", "redis", "127.0.0.1:1", False),
        ]

    async def test_old_rows_are_pruned(self, settings):
        settings.REALTIME = {"HEALTH_LOG_RETENTION_DAYS": 1}
        await HealthEvent.objects.acreate(
            created=timezone.now() - datetime.timedelta(days=2),
            node="x",
            kind="redis",
            subject="old",
        )
        hub = Hub(layer=None, name="pruner")
        hub.health_log._last_prune = -PRUNE_EVERY
        hub.health_log.record("redis", "new", True)
        await hub.health_log.drain()
        await hub.stop()
        assert [e.subject async for e in HealthEvent.objects.all()] == ["new"]

    async def test_disabled(self, settings):
        settings.REALTIME = {"HEALTH_LOG": False}
        hub = Hub(layer=None, name="quiet")
        hub.health_log.record("redis", "x", True)
        assert hub.health_log.queue is None


class TestCommandsWithoutRedis:
    @pytest.mark.parametrize(
        "argv",
        [
            ["broadcast", "say", '{"a": 1}'],
            ["user", "7", "say"],
            ["room", "chat", "1000", "say", "[]"],
            ["server", "ping"],
        ],
    )
    def test_single_node_mode_is_a_clear_error(self, argv):
        with pytest.raises(CommandError, match="no Redis node is configured"):
            call_command("realtime_emit", *argv)

    def test_status_and_redis_need_redis_too(self):
        with pytest.raises(CommandError, match="no Redis node is configured"):
            call_command("realtime_status")
        with pytest.raises(CommandError, match="no Redis node is configured"):
            call_command("realtime_redis", "add", "redis://127.0.0.1:6399/0")

    def test_invalid_json(self):
        with pytest.raises(CommandError, match=r"Invalid JSON payload '\{bad'"):
            call_command("realtime_emit", "broadcast", "say", "{bad")
        with pytest.raises(CommandError, match="Invalid JSON payload 'NaN'"):
            call_command("realtime_emit", "broadcast", "say", "NaN")

    def test_refused_event_name(self):
        with pytest.raises(CommandError, match="refusing to push event 'constructor'"):
            call_command("realtime_emit", "user", "1", "constructor")

    def test_invalid_redis_url(self):
        with pytest.raises(CommandError, match="Not a redis:// or rediss:// URL"):
            call_command("realtime_redis", "add", "http://example.com")

    def test_exit_code_1_and_message_without_traceback(self):
        done = run_manage("realtime_emit", "broadcast", "say", "{oops")
        assert done.returncode == 1
        assert "CommandError: Invalid JSON payload" in done.stderr
        assert "Traceback" not in done.stderr


def test_redis_entries_say_their_kind_and_what_they_use():
    from realtime.management.commands.realtime_status import _redis_cell
    from realtime.status import describe_deployment

    sentinel = {"kind": "sentinel", "primary": "10.0.0.7:6379", "failovers": 1}
    cluster = {"kind": "cluster", "shards": ["c1:7000", "c2:7001"], "failovers": 0}
    assert describe_deployment({"address": "redis://a:6379/0"}) == "standalone"
    assert describe_deployment(sentinel) == "sentinel, primary 10.0.0.7:6379, 1 failover"
    assert (
        describe_deployment({"kind": "sentinel"}) == "sentinel, primary not found yet, 0 failovers"
    )
    assert describe_deployment(cluster) == "cluster, 2 shards (c1:7000, c2:7001), 0 failovers"
    entry = {"healthy": True, "publish_ok": True, "latency_ms": 0.5, **sentinel}
    cell = _redis_cell({**entry, "deployment": describe_deployment(entry)})
    assert cell == "healthy 0.50 ms [sentinel, primary 10.0.0.7:6379, 1 failover]"


@pytest.mark.django_db(transaction=True)
async def test_a_failover_is_logged_under_the_entry_address():
    from realtime.cluster.health_log import HealthLog
    from realtime.signals import redis_health_changed

    log, layer = HealthLog("logger"), object()
    log.listen(layer, membership=None)
    address = "redis+sentinel://s1:26379,s2:26379/mymaster/0"
    redis_health_changed.send(
        sender=None, layer=layer, host="s1", port=26379, address=address, kind="sentinel",
        event="failover", connection_type="failover", healthy=True,
        error="primary of mymaster moved from a to b",
    )  # fmt: skip
    await log.drain()
    await log.stop()
    rows = [(e.kind, e.subject, e.detail) async for e in HealthEvent.objects.all()]
    assert rows == [
        (
            "redis",
            address,
            "event=failover connection_type=failover error=primary of mymaster moved from a to b",
        )
    ]
