"""The quick start of the docs, as a new user follows it: the wheel installed into a fresh
virtualenv outside the checkout, ``django-admin startproject``, exactly the settings, routing
and handlers that the docs show (they include the files of ``docs/quickstart/`` read here),
migrate, check, daphne, a WebSocket client that gets a reply and a room push, and the admin
status page for a staff user (issue 12).

Nothing of the checkout is on ``sys.path``: every command runs in a temporary directory with
``PYTHONPATH`` unset, and the client runs with ``python -I``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, OpenerDirector, Request, build_opener

import pytest

from tests.support.processes import ROOT, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

QUICKSTART = ROOT / "docs" / "quickstart"
STAFF = {"username": "ada", "password": "quick-start-pw-7", "email": "ada@example.com"}
# Variables of this test run that a new user's shell would not have.
NOT_INHERITED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DB_PATH",
    "DJANGO_EXTRA_APPS",
    "REALTIME_REDIS_NODES",
    "REALTIME_SERVER_NAME",
)

CLIENT = """
import asyncio, json, sys
import realtime
from realtime import RealtimeClient

async def main(url):
    async with RealtimeClient(url, custom_params={"id": "ada"}, connect_timeout=15) as client:
        joined = await client.call("join", {"room": "lobby"}, timeout=10)
        push = asyncio.ensure_future(client.wait_for("said", timeout=10))
        reply = await client.call("say", {"room": "lobby", "text": "hello"}, timeout=10)
        said = await push
    print(json.dumps({"module": realtime.__file__, "path": sys.path, "joined": joined,
                      "reply": reply, "said": said}))

asyncio.run(main(sys.argv[1]))
"""


class NewUserEnvironment:
    """A virtualenv in ``home`` and a shell environment that knows nothing of the checkout."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.venv = home / "venv"
        self.bin = self.venv / "bin"
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}"

    def run(self, *argv: str | Path, cwd: Path | None = None, **env: str) -> str:
        """Run a command; its output, or a failure showing it."""
        done = subprocess.run(
            [str(arg) for arg in argv],
            cwd=cwd or self.home,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    def install(self, wheel: Path) -> None:
        """``pip install 'wheel[client]'``: offline from a wheelhouse kept next to pip's cache;
        only when that lacks something, the wheelhouse is filled from the index first."""
        self.run(sys.executable, "-m", "venv", self.venv)
        wheelhouse = wheelhouse_dir()
        spec = f"{wheel}[client]"
        offline = [self.bin / "python", "-m", "pip", "install", "-q", "--no-index"]
        offline += ["--find-links", wheelhouse, spec]
        try:
            self.run(*offline)
        except AssertionError:
            self.run(self.bin / "python", "-m", "pip", "download", "-q", "-d", wheelhouse, spec)
            for stale in wheelhouse.glob("django_realtime_hub-*"):
                stale.unlink()  # the wheel under test is always the one just built
            self.run(*offline)


def wheelhouse_dir() -> Path:
    """Where the dependencies' wheels are kept between runs (inside pip's cache)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    )
    base = Path(done.stdout.strip()) if done.returncode == 0 else Path.home() / ".cache"
    wheelhouse = base / "realtime-quickstart-wheels"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    return wheelhouse


class QuickstartServer(ServerProcess):
    """``daphne mysite.asgi:application`` run from the new project's directory."""

    name = "quickstart-daphne"

    def __init__(self, user: NewUserEnvironment, project: Path) -> None:
        super().__init__()
        self.user = user
        self.cwd = project

    def command(self) -> list[str]:
        """daphne of the new virtualenv."""
        daphne = str(self.user.bin / "daphne")
        return [daphne, "-b", "127.0.0.1", "-p", str(self.port), "mysite.asgi:application"]

    def environment(self) -> dict[str, str]:
        """The new user's environment."""
        return dict(self.user.env)


def create_project(user: NewUserEnvironment) -> Path:
    """startproject, startapp, then the quick start's files exactly as the docs show them."""
    user.run("django-admin", "startproject", "mysite")
    project = user.home / "mysite"
    user.run(user.bin / "python", "manage.py", "startapp", "chat", cwd=project)
    settings = project / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n\n" + (QUICKSTART / "settings.py").read_text())
    (project / "mysite" / "asgi.py").write_text((QUICKSTART / "asgi.py").read_text())
    handlers = (QUICKSTART / "realtime_handlers.py").read_text()
    (project / "chat" / "realtime_handlers.py").write_text(handlers)
    return project


def staff_session(base: str) -> OpenerDirector:
    """An HTTP client logged into the admin as the staff user."""
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    login = f"{base}/admin/login/?next=/admin/"
    page = opener.open(login, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the admin login page"
    form = {"username": STAFF["username"], "password": STAFF["password"]}
    form |= {"csrfmiddlewaretoken": token.group(1), "next": "/admin/"}
    landed = opener.open(Request(login, data=urlencode(form).encode()), timeout=10)
    assert landed.url == f"{base}/admin/", "the staff user could not log in"
    return opener


def test_the_quick_start_works_from_the_wheel(wheel_path, tmp_path):
    user = NewUserEnvironment(tmp_path)
    user.install(wheel_path)
    project = create_project(user)
    python = user.bin / "python"
    user.run(python, "manage.py", "migrate", "--noinput", cwd=project)
    checked = user.run(python, "manage.py", "check", cwd=project)
    assert "System check identified no issues" in checked
    user.run(
        python,
        "manage.py",
        "createsuperuser",
        "--noinput",
        "--username",
        STAFF["username"],
        "--email",
        STAFF["email"],
        cwd=project,
        DJANGO_SUPERUSER_PASSWORD=STAFF["password"],
    )
    server = QuickstartServer(user, project)
    server.start(timeout=60)
    try:
        base = f"http://127.0.0.1:{server.port}"
        talk = json.loads(user.run(python, "-I", "-c", CLIENT, f"ws://127.0.0.1:{server.port}/ws/"))
        assert Path(talk["module"]).is_relative_to(user.venv), talk["module"]
        assert not any(entry and Path(entry).is_relative_to(ROOT) for entry in talk["path"])
        assert talk["joined"] == {"joined": "lobby"}
        assert talk["reply"] == {"delivered": True}
        assert talk["said"] == {"from": "ada", "text": "hello"}
        admin = staff_session(base)
        page = admin.open(f"{base}/admin/realtime/clusterstatus/", timeout=10)
        assert page.status == 200 and b"Cluster status" in page.read()
        data = json.loads(admin.open(f"{base}/admin/realtime/clusterstatus/data/").read())
        assert [node["name"] for node in data["nodes"]] == ["web-1"]
    finally:
        server.cleanup()
