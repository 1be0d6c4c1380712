"""What the wheel holds and declares: every file of the app and nothing else, and exactly the
dependencies that the server imports (issue 12)."""

from __future__ import annotations

import ast
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement

import realtime
from tests.support.processes import ROOT

# Which distribution brings each third-party module the app imports.
PROVIDED_BY = {
    "django": "django",
    "asgiref": "django",
    "channels": "channels",
    "daphne": "daphne",
    "twisted": "daphne",
    "zope": "daphne",
    "hiredis": "hiredis",
    "msgpack": "msgpack",
}
# Modules imported only where an extra is installed (with a clear error otherwise).
EXTRAS = {"websockets": "client", "zstandard": "zstd"}


def app_files() -> set[str]:
    """Every file of the ``realtime`` package in the source tree, as wheel paths."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "realtime").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def metadata(wheel: Path) -> tuple[list[str], object]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return names, Parser().parsestr(archive.read(meta).decode())


def third_party_imports(paths: list[Path]) -> set[str]:
    """Top-level names of the non-stdlib modules imported by these files."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"realtime"}


def test_the_wheel_holds_every_file_of_the_app_and_nothing_else(wheel_path):
    names, _ = metadata(wheel_path)
    packaged = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packaged == app_files()
    assert "realtime/templates/admin/realtime/cluster_status.html" in packaged
    assert "realtime/py.typed" in packaged
    assert {n.split("/")[0] for n in packaged} == {"realtime"}  # no project, tests, benchmarks


def test_name_version_and_requirements(wheel_path):
    _, meta = metadata(wheel_path)
    assert meta["Name"] == "django-realtime-hub"
    assert meta["Version"] == realtime.__version__
    assert realtime.__version__ in (ROOT / "CHANGELOG.md").read_text()
    requirements = [Requirement(text) for text in meta.get_all("Requires-Dist")]
    always = {r.name.lower() for r in requirements if r.marker is None}
    assert always == {"django", "channels", "daphne", "hiredis", "msgpack"}
    by_extra = {
        extra: {
            r.name.lower() for r in requirements if r.marker and r.marker.evaluate({"extra": extra})
        }
        for extra in ("client", "zstd")
    }
    assert by_extra == {"client": {"websockets"}, "zstd": {"zstandard"}}


def test_requirements_are_what_the_server_imports(wheel_path):
    _, meta = metadata(wheel_path)
    always = {
        Requirement(text).name.lower()
        for text in meta.get_all("Requires-Dist")
        if Requirement(text).marker is None
    }
    server = [p for p in (ROOT / "realtime").rglob("*.py") if "client" not in p.parts]
    imported = third_party_imports(server)
    assert imported - set(PROVIDED_BY) == {"zstandard"}  # imported lazily, behind a check
    assert {PROVIDED_BY[name] for name in imported - set(EXTRAS)} == always
    client = third_party_imports(list((ROOT / "realtime" / "client").rglob("*.py")))
    assert client == {"websockets"}
