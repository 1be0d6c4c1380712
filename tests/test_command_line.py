"""The management commands' command lines as people type them: ``--json`` and Django's common
options before or after the sub-command, examples and exit codes in ``--help`` (issue 12).
The commands' effects against live nodes are in tests/e2e/test_commands.py."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command, load_command_class

from tests.support.processes import run_manage

COMMANDS = ["realtime_emit", "realtime_status", "realtime_redis"]
# Each command line without --json, and where --json goes in it: first, right after the
# sub-command, last.
COMMAND_LINES = [
    ("realtime_emit", ["broadcast", "hello", '{"x": 1}'], (0, 1, 3)),
    ("realtime_emit", ["user", "5", "dm"], (0, 1, 3)),
    ("realtime_emit", ["users", "5,6", "multi", "[1, 2]"], (0, 1, 4)),
    ("realtime_emit", ["room", "chat", "r", "roomEvt", '"hi"', "--exclude", "6"], (0, 1, 5, 7)),
    ("realtime_emit", ["server", "ping", '{"a": 1}', "--timeout", "2"], (0, 1, 3, 5)),
    ("realtime_status", ["--wait", "1"], (0, 2)),
    ("realtime_redis", ["add", "redis://127.0.0.1:6399/0"], (0, 1, 2)),
]


def parse(name: str, argv: list[str]) -> dict:
    command = load_command_class("realtime", name)
    return vars(command.create_parser("manage.py", name).parse_args(argv))


def with_json_at(argv: list[str], position: int) -> list[str]:
    return [*argv[:position], "--json", *argv[position:]]


@pytest.mark.parametrize(("name", "argv", "positions"), COMMAND_LINES)
def test_json_is_accepted_before_or_after_the_subcommand(name, argv, positions):
    plain = parse(name, argv)
    assert plain["json"] is False
    for position in positions:
        options = parse(name, with_json_at(argv, position))
        assert options == {**plain, "json": True}, f"--json at position {position}"


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "2", "--traceback", "server", "ping", "--json"],
        ["server", "ping", "--json", "-v", "2", "--traceback"],
        ["--json", "server", "-v", "2", "ping", "--traceback"],
    ],
)
def test_common_options_before_or_after_the_subcommand(argv):
    options = parse("realtime_emit", argv)
    assert (options["json"], options["verbosity"], options["traceback"]) == (True, 2, True)
    assert (options["target"], options["event"]) == ("server", "ping")


def test_defaults_hold_when_an_option_is_not_given():
    options = parse("realtime_emit", ["room", "chat", "r", "evt"])
    assert (options["json"], options["verbosity"], options["traceback"]) == (False, 1, False)
    assert options["exclude"] == []


def test_call_command_takes_json_after_the_subcommand_too():
    # Reaches the command's handling (then stops: no Redis node in the test settings).
    for argv in (["--json", "server", "ping"], ["server", "ping", "--json"]):
        with pytest.raises(CommandError, match="no Redis node is configured"):
            call_command("realtime_emit", *argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["realtime_emit", "--help"],
        ["realtime_emit", "server", "--help"],
        ["realtime_emit", "room", "--help"],
        ["realtime_status", "--help"],
        ["realtime_redis", "--help"],
    ],
)
def test_help_shows_an_example_and_the_exit_codes(argv):
    done = run_manage(*argv)
    assert done.returncode == 0, done.stderr
    example = done.stdout.split("example", 1)[1]
    assert f"manage.py {argv[0]} " in example
    assert "exit codes:\n  0  done" in done.stdout
    assert "  2  the command line itself is wrong" in done.stdout


def test_a_wrong_command_line_exits_with_2():
    done = run_manage("realtime_emit", "server", "ping", "--jsn")
    assert done.returncode == 2
    assert "unrecognized arguments: --jsn" in done.stderr
