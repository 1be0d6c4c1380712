"""Sphinx configuration of the documentation site (MyST Markdown pages, furo theme).

``make docs`` builds it with warnings as errors. API pages are generated from the docstrings,
so Django is set up with the demo project's settings before autodoc imports the app.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import django
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

import realtime

project = "realtime"
author = "the realtime maintainers"
copyright = "2026, the realtime maintainers"
release = realtime.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# settings-extra.md is folded into the settings reference (below), not a page of its own;
# quickstart/ holds the files that the quick start includes (and its test reads).
exclude_patterns = ["_build", "quickstart/*", "reference/settings-extra.md", "**/README.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Links to sections of other pages (page.md#section) are checked.
myst_heading_anchors = 4

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Type hints name classes unqualified (``from __future__ import annotations``); where two
# modules define a class of that name (a Socket protocol and the Socket), the link is
# ambiguous: that is not an error of the docs.
suppress_warnings = ["ref.python"]
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"realtime {release}"
html_static_path = ["_static"]
# Without one, browsers ask the server for /favicon.ico (a 404 in the console).
html_favicon = "_static/favicon.svg"

SETTINGS_EXTRA = Path(__file__).resolve().parent / "reference" / "settings-extra.md"
EXTRA_MARKER = "<!-- settings-extra rows -->"


def extra_setting_rows() -> str:
    """The table rows of reference/settings-extra.md (header and rule left out), if any."""
    if not SETTINGS_EXTRA.exists():
        return ""
    rows = [line for line in SETTINGS_EXTRA.read_text().splitlines() if line.startswith("|")]
    return "\n".join(row for row in rows[2:] if row.strip("|- :"))


def fold_extra_settings(app: Sphinx, docname: str, source: list[str]) -> None:
    """Put the rows of settings-extra.md (settings added by other changes) into the table
    of the settings reference that ends with the marker comment."""
    if docname == "reference/settings" and EXTRA_MARKER in source[0]:
        extra = extra_setting_rows()
        source[0] = source[0].replace(EXTRA_MARKER + "\n", extra + "\n" if extra else "")


class EmptyGlobIsFine(logging.Filter):
    """Let a toctree glob match nothing: the topic, reference and API indexes end with a
    ``*`` that collects pages added later (Sphinx warns, with no type to suppress)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the empty-glob warning only."""
        return "didn't match any documents" not in str(record.msg)


logging.getLogger("sphinx.sphinx.directives.other").addFilter(EmptyGlobIsFine())


def setup(app: Sphinx) -> None:
    """Register the settings-extra hook."""
    app.connect("source-read", fold_extra_settings)
