"""Real redis-server processes on free loopback ports, for the channel layer's tests."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
from typing import Any

from .processes import ServerProcess

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer(ServerProcess):
    """A throwaway redis-server: no persistence, DEBUG allowed from loopback.

    ``kill()`` then ``start()`` brings it back on the same port, as a crashed and restarted
    node would come back.
    """

    name = "redis"

    def __init__(
        self,
        port: int | None = None,
        password: str | None = None,
        tls: bool = False,
        tls_client_auth: bool = False,
        extra: list[str] | None = None,
    ) -> None:
        super().__init__(port)
        self.extra = list(extra or [])
        self.password = password
        self.tls = tls
        self.tls_client_auth = tls_client_auth
        self.directory = tempfile.mkdtemp(prefix="redis-")
        if tls:
            self._make_certificate()

    @property
    def certificate(self) -> str:
        """The self-signed certificate (for 127.0.0.1) of a TLS server; also its CA, and a
        client certificate it accepts (``tls_client_auth``) together with :attr:`key`."""
        return f"{self.directory}/cert.pem"

    @property
    def key(self) -> str:
        """The private key of :attr:`certificate`."""
        return f"{self.directory}/key.pem"

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", self.key, "-out", self.certificate,
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip

    def command(self) -> list[str]:
        """``redis-server`` on 127.0.0.1:port without persistence."""
        command = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.directory,
            "--enable-debug-command", "local", "--loglevel", "warning",
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password, "--masterauth", self.password]
        command += self.extra
        if self.tls:
            command[1:3] = ["--port", "0", "--tls-port", str(self.port)]
            command += [
                "--tls-cert-file", self.certificate, "--tls-key-file", self.key,
                "--tls-ca-cert-file", self.certificate,
                "--tls-auth-clients", "yes" if self.tls_client_auth else "no",
            ]  # fmt: skip
        return command

    @property
    def url(self) -> str:
        """``redis://[:password@]127.0.0.1:port/0`` (``rediss://`` with TLS)."""
        auth = f":{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        """The layer's name for this node (no password)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def call(self, *args: str | int, timeout: float = 5.0) -> Any:
        """Run one command on a fresh connection and return its reply (text decoded)."""
        import hiredis

        reader = hiredis.Reader(encoding="utf-8")
        with self._connect(timeout) as sock:
            if self.password:
                sock.sendall(hiredis.pack_command(("AUTH", self.password)))
                _read_reply(sock, reader)
            sock.sendall(hiredis.pack_command(tuple(str(a) for a in args)))
            return _read_reply(sock, reader)

    def _connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if not self.tls:
            return sock
        context = ssl.create_default_context(cafile=self.certificate)
        context.load_cert_chain(self.certificate, self.key)
        return context.wrap_socket(sock, server_hostname="127.0.0.1")

    def subscribers(self, channel: str) -> int:
        """How many connections are subscribed to ``channel`` (``PUBSUB NUMSUB``)."""
        return int(self.call("PUBSUB", "NUMSUB", channel)[1])

    def publish_count(self) -> int:
        """How many PUBLISH commands this server has processed since it started."""
        for line in self.call("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_publish:"):
                return int(line.split("calls=")[1].split(",")[0])
        return 0

    def cleanup(self) -> None:
        """Stop the server and remove its files."""
        super().cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)


def call_port(port: int, *args: str | int, timeout: float = 5.0) -> Any:
    """One command to a password-less, plain-TCP server on 127.0.0.1:``port`` (a sentinel,
    a cluster node), its reply text decoded."""
    import hiredis

    reader = hiredis.Reader(encoding="utf-8")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(hiredis.pack_command(tuple(str(a) for a in args)))
        return _read_reply(sock, reader)


def _read_reply(sock: socket.socket, reader: object) -> Any:
    while (reply := reader.gets()) is False:  # type: ignore[attr-defined]
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("redis closed the connection")
        reader.feed(data)  # type: ignore[attr-defined]
    if isinstance(reply, Exception):
        raise reply
    return reply
