"""The docs match the code: every setting of ``realtime/conf.py`` and every ``CONFIG`` key of
the channel layer is in the settings reference, with its default, and every system check in
the checks reference (issue 12)."""

from __future__ import annotations

import ast
import re

import pytest

from realtime import conf
from realtime.layers import config
from tests.support.processes import ROOT

REFERENCE = ROOT / "docs" / "reference" / "settings.md"
# Settings added by other changes, folded into the reference when the docs are built.
EXTRA = ROOT / "docs" / "reference" / "settings-extra.md"
CHECKS = ROOT / "docs" / "reference" / "checks.md"
ROW = re.compile(r"^\| `(?P<key>[A-Za-z_]+)` \| (?P<default>[^|]*(?:\\\|[^|]*)*) \|")


def rows(text: str) -> dict[str, str]:
    """Key -> default cell of every table row that starts with a backticked name."""
    found = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            found[match["key"]] = match["default"].strip()
    return found


def section(title: str) -> str:
    """The text of one ``## `` section of the settings reference."""
    text = REFERENCE.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def extra_rows() -> dict[str, str]:
    return rows(EXTRA.read_text()) if EXTRA.exists() else {}


@pytest.mark.parametrize(
    ("title", "defaults"),
    [("`REALTIME`", conf.DEFAULTS), ("`CHANNEL_LAYERS`", config.DEFAULTS)],
    ids=["REALTIME", "CONFIG"],
)
def test_every_setting_is_in_the_reference_with_its_default(title, defaults):
    documented = rows(section(title))
    extra = {key: cell for key, cell in extra_rows().items() if key in defaults}
    assert set(documented) | set(extra) == set(defaults)
    assert not set(documented) & set(extra), "a setting is documented twice"
    for key, cell in documented.items():
        literal = re.fullmatch(r"`([^`]+)`", cell)
        assert literal, f"{key}: the default is not one literal value: {cell!r}"
        assert ast.literal_eval(literal[1]) == defaults[key], f"{key}: default {cell}"


def test_the_extra_settings_are_settings():
    unknown = set(extra_rows()) - set(conf.DEFAULTS) - set(config.DEFAULTS)
    assert not unknown, f"settings-extra.md documents unknown settings: {sorted(unknown)}"


def test_every_system_check_is_in_the_checks_reference():
    ids = set(
        re.findall(r'id="(realtime\.[EW]\d{3})"', (ROOT / "realtime" / "checks.py").read_text())
    )
    documented = set(re.findall(r"^\| `(realtime\.[EW]\d{3})` \|", CHECKS.read_text(), re.M))
    assert ids and documented == ids
