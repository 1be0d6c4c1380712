"""The results of a run as tables (terminal and Markdown), target checks, and a plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

Rows = tuple[str, list[str], list[list[str]]]
BASELINES = ("channels-pubsub", "channels-core")
NODE_REFERENCE_US = 18.0  # the original Node.js server on this machine (DESIGN.md), not run here


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _ratio(baseline: float | None, ours: float | None) -> str:
    if not baseline or not ours:
        return "-"
    return f"{baseline / ours:.1f}x"


def fanout_rows(fanout: dict[str, Any]) -> Rows:
    """One row per configuration: the fixed load, then the highest passing rate."""
    setups = fanout["setups"]
    header = [
        "configuration",
        "frames/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "server CPU µs/frame",
        "CPU vs pub/sub",
        "CPU vs core",
        "lost",
        "max msg/s (p99<100ms)",
        "max frames/s",
        "max vs pub/sub",
    ]
    base_cpu = {
        key: setups[key]["fixed"]["server_cpu_us_per_frame"] for key in BASELINES if key in setups
    }
    base_max = setups.get("channels-pubsub", {}).get("max_frames_per_second")
    rows = []
    for result in setups.values():
        fixed = result["fixed"]
        cpu = fixed["server_cpu_us_per_frame"]
        rows.append(
            [
                result["label"],
                _num(fixed["frames_per_second"], 0),
                _num(fixed["p50_ms"]),
                _num(fixed["p95_ms"]),
                _num(fixed["p99_ms"]),
                _num(cpu),
                _ratio(base_cpu.get("channels-pubsub"), cpu),
                _ratio(base_cpu.get("channels-core"), cpu),
                _num(fixed["lost"]),
                _num(result["max_rate"]),
                _num(result["max_frames_per_second"], 0),
                _ratio(result["max_frames_per_second"], base_max),
            ]
        )
    title = (
        f"Fan-out: 2 nodes, {fanout['clients_per_node']} clients per node in one room "
        f"(fixed load, then the highest rate with p99 < {fanout['p99_limit_ms']:g} ms)"
    )
    return title, header, rows


def request_rows(requests: dict[str, Any]) -> Rows:
    """Round trips of ``echo`` calls per configuration and concurrency."""
    header = ["configuration", "callers", "calls/s", "p50 ms", "p99 ms", "server CPU µs/call"]
    rows = [
        [
            result["label"],
            str(level["concurrency"]),
            _num(level["calls_per_second"], 0),
            _num(level["p50_ms"], 2),
            _num(level["p99_ms"], 2),
            _num(level["server_cpu_us_per_call"]),
        ]
        for result in requests["setups"].values()
        for level in result["levels"]
    ]
    return "Request/ack: echo with a callback, one node, closed loop", header, rows


def cross_rows(cross: dict[str, Any]) -> Rows:
    """Cross-server calls to all nodes."""
    header = [
        "configuration",
        "p50 ms",
        "p99 ms",
        "failures",
        "concurrent calls/s",
        "concurrent p50 ms",
        "concurrent p99 ms",
    ]
    rows = []
    for result in cross["setups"].values():
        seq, conc = result["sequential"], result["concurrent"]
        rows.append(
            [
                result["label"],
                _num(seq["p50_ms"], 2),
                _num(seq["p99_ms"], 2),
                _num(seq["failures"] + conc["failures"]),
                _num(conc["calls_per_second"], 0),
                _num(conc["p50_ms"], 2),
                _num(conc["p99_ms"], 2),
            ]
        )
    return f"Cross-server calls: emit_cross_server to all of {cross['nodes']} nodes", header, rows


def memory_rows(memory: dict[str, Any]) -> Rows:
    """Memory growth per idle connection."""
    header = [
        "configuration",
        "connections",
        "RSS MiB at each level",
        "KiB per connection",
        "MiB per 1 000",
    ]
    rows = []
    for result in memory["setups"].values():
        samples = result["samples"]
        rows.append(
            [
                result["label"],
                " / ".join(str(s["connections"]) for s in samples),
                " / ".join(f"{s['rss_bytes'] / 2**20:.0f}" for s in samples),
                _num(result["kib_per_connection"]),
                _num(result["mib_per_1000"], 2),
            ]
        )
    title = f"Memory per idle connection (heartbeat every {memory['heartbeat_seconds']:g} s)"
    if memory.get("after_over_before"):
        title += f"; now / before issue 16: {memory['after_over_before']:.2f}"
    return title, header, rows


def scale_rows(scale: dict[str, Any]) -> Rows:
    """One node's idle connections and pushes, and the 1 000-client fan-out."""
    header = ["measure", "value"]
    heartbeat_cpu = scale["heartbeat_cpu_ms_per_connection_minute"]
    rows = [
        ["idle connections on one node", _num(scale["connections"])],
        ["connections opened per second", _num(scale["connections_per_second"], 0)],
        ["RSS per connection, KiB", _num(scale["kib_per_connection"], 2)],
        ["heartbeat CPU, ms per connection per minute", _num(heartbeat_cpu, 3)],
    ]
    for key, name in (("broadcast", "broadcast to all"), ("room_push", "room push")):
        push = scale[key]
        rows.append(
            [
                f"{name} ({push['recipients']:,} recipients x {push['messages']}): p50 / p99 ms",
                f"{_num(push['p50_ms'])} / {_num(push['p99_ms'])}",
            ]
        )
        rows.append([f"{name}: delivered / lost", f"{push['delivered']:,} / {push['lost']:,}"])
        if "node_cpu_share" in push:
            rows.append(
                [
                    f"{name}: node / busiest client process CPU share",
                    f"{_num(push['node_cpu_share'], 2)} / {_num(push['client_cpu_share'], 2)}",
                ]
            )
    fan = scale.get("fanout")
    if fan:
        before, now = fan["before"]["fixed"], fan["now"]["fixed"]
        rows += [
            [f"fan-out, {fan['clients']:,} clients in one room on 2 nodes: max msg/s (p99 limit)",
             _num(fan["now"]["max_rate"])],
            ["fan-out server CPU µs/frame at the fixed load: before issue 16 / now",
             f"{_num(before['server_cpu_us_per_frame'])} / {_num(now['server_cpu_us_per_frame'])}"
             f" (x{_num(fan['cpu_now_over_before'], 2)})"],
        ]  # fmt: skip
    title = f"Scale: one node (heartbeat every {scale['heartbeat_seconds']:g} s)"
    if scale["connections"] < scale["wanted"]:
        title += (
            f"; {scale['wanted']:,} wanted, the open-file limit allows {scale['connections']:,}"
        )
    return title, header, rows


def failover_rows(failover: dict[str, Any]) -> Rows:
    """A Redis node killed or frozen under steady traffic."""
    header = [
        "configuration",
        "frames expected",
        "lost in transit",
        "refused messages",
        "disrupted messages",
        "recovery ms",
        "max latency after failure ms",
    ]
    rows = []
    for r in failover["setups"].values():
        codes = ", ".join(f"{n} {code}" for code, n in r["refused_codes"].items())
        rows.append(
            [
                r["label"],
                _num(r["frames_expected"]),
                _num(r["lost"]),
                f"{r['refused']} ({codes})" if r["refused"] else "0",
                _num(r["disrupted_messages"]),
                _num(r["recovery_ms"]),
                _num(r["max_latency_after_failure_ms"]),
            ]
        )
    title = (
        f"Failover: one of 3 Redis nodes killed (SIGKILL) or frozen (SIGSTOP) under "
        f"{failover['rate']} room messages/s to 200 clients"
    )
    return title, header, rows


def target_rows(results: dict[str, Any]) -> Rows:
    """The issue's targets against this run's numbers."""
    rows: list[list[str]] = []
    fanout = results.get("fanout", {}).get("setups", {})
    ours = fanout.get("realtime-1", {}).get("fixed")
    if ours:
        cpu = ours["server_cpu_us_per_frame"]
        rows.append(
            _target(
                f"server CPU ≤ 2x Node.js (≤ {2 * NODE_REFERENCE_US:g} µs/frame)",
                f"{cpu} µs",
                cpu is not None and cpu <= 2 * NODE_REFERENCE_US,
            )
        )
        for key in BASELINES:
            if key in fanout:
                base = fanout[key]["fixed"]["server_cpu_us_per_frame"]
                ratio = base / cpu if base and cpu else 0
                rows.append(
                    _target(
                        f"≥ 5x less CPU per frame than {fanout[key]['label']}",
                        f"{ratio:.1f}x",
                        ratio >= 5,
                    )
                )
    for key in ("realtime-1", "realtime-3"):
        fixed = fanout.get(key, {}).get("fixed")
        if fixed:
            rows.append(
                _target(
                    f"p99 < 20 ms at {fixed['frames_per_second']:,.0f} frames/s "
                    f"({fanout[key]['label']})",
                    f"{fixed['p99_ms']} ms",
                    fixed["p99_ms"] is not None and fixed["p99_ms"] < 20,
                )
            )
    for result in results.get("cross", {}).get("setups", {}).values():
        p50 = result["sequential"]["p50_ms"]
        rows.append(
            _target(
                f"3-node cross-server call p50 < 5 ms ({result['label']})",
                f"{p50} ms",
                p50 is not None and p50 < 5,
            )
        )
    for result in results.get("failover", {}).get("setups", {}).values():
        if result["redundancy"] == 2:
            rows.append(
                _target(
                    f"zero frames lost in transit with redundancy 2 ({result['label']})",
                    f"{result['lost']} lost",
                    result["lost"] == 0,
                )
            )
    rows += _memory_targets(results)
    return "Targets", ["target", "measured", "met"], rows


def _memory_targets(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    memory = results.get("memory", {}).get("setups", {}).get("realtime-1")
    if memory:
        kib = memory["kib_per_connection"]
        rows.append(
            _target("≤ 15 KiB RSS per idle connection", f"{kib} KiB", kib is not None and kib <= 15)
        )
    scale = results.get("scale")
    if scale:
        lost = scale["broadcast"]["lost"] + scale["room_push"]["lost"]
        rows.append(
            _target(
                f"{scale['connections']:,} idle connections on one node, pushes: nothing lost",
                f"{lost} lost",
                lost == 0,
            )
        )
        ratio = (scale.get("fanout") or {}).get("cpu_now_over_before")
        if ratio is not None:
            rows.append(
                _target("fan-out CPU per frame within 10% of before", f"x{ratio}", ratio <= 1.1)
            )
    return rows


def _target(name: str, measured: str, met: bool) -> list[str]:
    return [name, measured, "yes" if met else "NO"]


SECTIONS: list[tuple[str, Callable[[dict[str, Any]], Rows]]] = [
    ("fanout", fanout_rows),
    ("requests", request_rows),
    ("cross", cross_rows),
    ("memory", memory_rows),
    ("failover", failover_rows),
    ("scale", scale_rows),
]


def all_rows(results: dict[str, Any]) -> list[Rows]:
    """Every table of the run's scenarios, then the targets."""
    tables = [build(results[name]) for name, build in SECTIONS if name in results]
    targets = target_rows(results)
    return [*tables, targets] if targets[2] else tables


def print_tables(results: dict[str, Any], console: Console) -> None:
    """The tables on a terminal (plain text when redirected)."""
    for title, header, rows in all_rows(results):
        table = Table(title=title, title_justify="left")
        for column in header:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def markdown(results: dict[str, Any]) -> str:
    """The tables in Markdown, for the README."""
    parts = []
    for title, header, rows in all_rows(results):
        lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def plot(results: dict[str, Any], path: Path) -> Path | None:
    """Latency percentiles vs offered load (frames/s), one colour per configuration (PNG).

    Offered load is the sender's rate times the clients in the room; a step that failed
    (p99 over the limit, frames lost or refused) is drawn with a cross.
    """
    fanout = results.get("fanout")
    if not fanout:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(12, 6), dpi=110)
    styles = (("p50_ms", ":", "p50"), ("p95_ms", "--", "p95"), ("p99_ms", "-", "p99"))
    for index, result in enumerate(fanout["setups"].values()):
        steps = sorted(result["steps"], key=lambda step: step["rate"])
        colour = f"C{index}"
        for key, line, name in styles:
            points = [(s["rate"] * result["clients"], s[key], s["passed"]) for s in steps]
            points = [point for point in points if point[1] is not None]
            if not points:
                continue
            xs, ys, passed = zip(*points, strict=True)
            axes.plot(xs, ys, line, color=colour, label=f"{result['label']} {name}")
            for x, y, ok in zip(xs, ys, passed, strict=True):
                axes.plot(x, y, "o" if ok else "x", color=colour, markersize=4 if ok else 6)
    axes.axhline(fanout["p99_limit_ms"], color="grey", linewidth=0.8)
    axes.annotate(f"p99 limit {fanout['p99_limit_ms']:g} ms", (0.01, fanout["p99_limit_ms"]),
                  xycoords=("axes fraction", "data"), fontsize=8, color="grey",
                  verticalalignment="bottom")  # fmt: skip
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered load: room messages/s x clients in the room (frames/s, 2 nodes)")
    axes.set_ylabel("end-to-end latency, ms")
    machine = results.get("machine", {})
    axes.set_title(
        f"Fan-out latency vs load: {fanout['clients_per_node']} clients per node, one room; "
        f"x = failed step ({machine.get('cpus', '?')} CPUs, {results.get('profile', '')} run)"
    )
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return path
