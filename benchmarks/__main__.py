"""One entry point for the end-to-end benchmarks.

    python -m benchmarks run --quick          # every scenario, small (under 5 minutes)
    python -m benchmarks run --full           # the README's numbers, and the scale scenario
    python -m benchmarks run --full --scenarios memory scale   # docs/topics/memory.md
    python -m benchmarks run --quick --scenarios fanout --setups realtime-1 channels-pubsub
    python -m benchmarks report benchmarks/results/latest.json --markdown

Everything runs on 127.0.0.1: throwaway redis-server and daphne processes, load clients in
their own processes. Results go to ``benchmarks/results/`` (JSON and a PNG plot, also as
``latest.json`` / ``latest.png``) and to the terminal as tables. Every process started is
stopped at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from . import cross_calls, failover, fanout, memory, overload, report, request_ack, scale
from .nodes import SETUPS, raise_open_file_limit
from .profiles import PROFILES, Profile
from .ui import Ui

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCENARIOS = ("fanout", "requests", "cross", "memory", "failover")
# "scale" runs by default in --full (and, tiny, in the smoke run), on request otherwise.
OPTIONAL_SCENARIOS = ("layers", "overload", "scale")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    from importlib.metadata import version

    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "redis": redis.stdout.split()[2].removeprefix("v=") if redis.stdout else "?",
        "packages": {
            name: version(name)
            for name in (
                "django",
                "channels",
                "daphne",
                "channels-redis",
                "redis",
                "twisted",
                "autobahn",
            )
        },
    }


def settings_note(profile: Profile) -> dict[str, Any]:
    """The server settings every node ran with (see benchmarks/settings.py)."""
    return {
        "RATE_LIMIT": None,
        "GC_FREEZE": os.environ.get("BENCH_GC_FREEZE", "1") not in ("0", "false", "no", "off"),
        "baseline_gc_freeze": False,
        "channels_redis_core": {"max_connections": 1000, "socket_timeout": None},
        "profile": profile.name,
    }


async def run_scenarios(
    args: argparse.Namespace, profile: Profile, workdir: Path, ui: Ui, results: dict[str, Any]
) -> None:
    """Each chosen scenario in turn; results are kept as they come."""
    for name in args.scenarios:
        started = time.monotonic()
        if name == "fanout":
            results["fanout"] = await fanout.run(profile, args.setups, workdir, ui)
        elif name == "requests":
            results["requests"] = await request_ack.run(profile, workdir, ui)
        elif name == "cross":
            results["cross"] = await cross_calls.run(profile, ui)
        elif name == "memory":
            results["memory"] = await memory.run(profile, ui)
        elif name == "failover":
            results["failover"] = await failover.run(profile, workdir, ui)
        elif name == "overload":
            results["overload"] = await overload.run(profile, workdir, ui)
        elif name == "layers":
            results["layers"] = _layer_bench(profile, workdir)
        elif name == "scale":
            results["scale"] = await scale.run(profile, workdir, ui)
        results.setdefault("seconds", {})[name] = round(time.monotonic() - started, 1)


def _layer_bench(profile: Profile, workdir: Path) -> dict[str, Any]:
    """The channel-layer benchmark (``python -m benchmarks.layer_bench``) as a scenario."""
    path = workdir / "layers.json"
    quick = [] if profile.name == "full" else ["--quick"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.layer_bench", *quick, "--json", str(path)],
        cwd=ROOT,
        check=True,
        timeout=900,
    )
    return json.loads(path.read_text())


def _stop_on_sigterm() -> None:
    # A terminated harness unwinds like Ctrl-C, so every process gets stopped.
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    """``run``: measure, then write JSON, tables and the plot."""
    profile = PROFILES[args.profile]
    if args.scenarios is None:
        args.scenarios = [*SCENARIOS, *(("scale",) if profile.name in ("full", "smoke") else ())]
    raise_open_file_limit()
    _stop_on_sigterm()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = _console()
    results: dict[str, Any] = {
        "profile": profile.name,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "settings": settings_note(profile),
    }
    workdir = Path(tempfile.mkdtemp(prefix="realtime-bench-"))
    failed = False
    try:
        with Ui() as ui:
            asyncio.run(run_scenarios(args, profile, workdir, ui, results))
    except KeyboardInterrupt:
        console.print("[red]Interrupted: every process was stopped; finished scenarios are kept.")
        failed = True
    except Exception:
        console.print_exception()
        console.print("[red]A scenario failed: every process was stopped; finished ones are kept.")
        failed = True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _remove_database_template()
    stem = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{profile.name}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    shutil.copyfile(stem.with_suffix(".json"), out / "latest.json")
    report.print_tables(results, console)
    png = report.plot(results, stem.with_suffix(".png"))
    if png is not None:
        shutil.copyfile(png, out / "latest.png")
    console.print(f"Results: {stem.with_suffix('.json')}" + (f", plot: {png}" if png else ""))
    return 1 if failed else 0


def _console() -> Console:
    # Wide tables stay readable in a log file (rich assumes 80 columns off a terminal).
    return Console() if sys.stdout.isatty() else Console(width=200)


def _remove_database_template() -> None:
    from tests.support import processes

    template = processes._migrated_template
    if template is not None:
        template.unlink(missing_ok=True)


def show(args: argparse.Namespace) -> int:
    """``report``: print a results file again (as Markdown with ``--markdown``)."""
    results = json.loads(Path(args.file).read_text())
    if args.markdown:
        print(report.markdown(results), end="")
    else:
        report.print_tables(results, _console())
    if args.plot:
        report.plot(results, Path(args.plot))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="run the benchmarks")
    size = runner.add_mutually_exclusive_group(required=True)
    size.add_argument(
        "--quick",
        dest="profile",
        action="store_const",
        const="quick",
        help="every scenario, small: under 5 minutes on 2 cores",
    )
    size.add_argument(
        "--full",
        dest="profile",
        action="store_const",
        const="full",
        help="the README's numbers and the scale scenario (about 13 minutes)",
    )
    size.add_argument(
        "--smoke", dest="profile", action="store_const", const="smoke", help=argparse.SUPPRESS
    )
    runner.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS + OPTIONAL_SCENARIOS,
        help="default: all but layers and overload (and scale only with --full)",
    )
    runner.add_argument(
        "--setups",
        nargs="+",
        default=list(SETUPS),
        choices=list(SETUPS),
        help="fan-out configurations",
    )
    runner.add_argument("--out", default=str(RESULTS), help="folder of the result files")
    runner.set_defaults(handler=run)
    shower = commands.add_parser("report", help="print a results file")
    shower.add_argument("file")
    shower.add_argument("--markdown", action="store_true")
    shower.add_argument("--plot", help="also draw the plot to this PNG file")
    shower.set_defaults(handler=show)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
