"""The architecture holds: layers import one way, no cycles, a Django-free client."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.processes import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_project_keeps_its_import_contracts():
    run = subprocess.run([LINT_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_check_fails_on_a_cycle_and_names_the_import(tmp_path):
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("from typing import TYPE_CHECKING\n")
    (package / "high.py").write_text("from . import low\n")
    # A type-only import back up the stack still closes the circle.
    (package / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import high\n"
    )
    (tmp_path / ".importlinter").write_text(
        textwrap.dedent(
            """
            [importlinter]
            root_package = circle

            [importlinter:contract:layers]
            name = layered
            type = layers
            layers =
                circle.high
                circle.low

            [importlinter:contract:acyclic]
            name = acyclic
            type = acyclic_siblings
            ancestors = circle
            """
        )
    )
    run = subprocess.run(
        [LINT_IMPORTS], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode != 0
    assert "circle.low -> circle.high (l.3)" in run.stdout, run.stdout
    assert "No cycles are allowed in circle" in run.stdout, run.stdout


def test_importing_the_python_client_loads_no_django():
    code = (
        "import json, sys, realtime.client; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'channels', 'daphne', 'twisted'))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def test_no_module_is_too_long_and_no_function_too():
    import ast

    long_modules, long_functions = [], []
    for path in sorted((ROOT / "realtime").rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > 400:
            long_modules.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.end_lineno - node.lineno + 1 > 50:  # type: ignore[union-attr]
                long_functions.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert long_modules == []
    assert long_functions == []
