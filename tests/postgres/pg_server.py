"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp dir, no Docker.

Runs as root too: initdb/postgres refuse to run as root, so the server runs as an
unprivileged user (created if missing) through `runuser`/`setpriv`. The server listens on
127.0.0.1 on a free port and on a unix socket in its own directory under /tmp.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "bitrix_pg"  # OS user the server runs as when we are root
SUPERUSER = "postgres"  # database superuser created by initdb
PASSWORD = "bitrix-test-pw"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: PG_BINDIR, PATH, or /usr/lib/postgresql/*/bin."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if all((directory / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
        "/usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql) "
        "or set PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


@dataclass
class PostgresServer:
    """One running server; `params` are psycopg2/dbt connection fields."""

    bindir: Path
    root: Path
    port: int
    run_as: pwd.struct_passwd | None = None
    #: Extra server settings (``-c name=value``), e.g. memory for a benchmark.
    settings: dict[str, str] = field(default_factory=dict)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def params(self) -> dict:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": SUPERUSER,
            "password": PASSWORD,
            "dbname": "postgres",
        }

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} password={PASSWORD} dbname={dbname}"
        )

    def _cmd(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        if self.run_as is not None:
            if shutil.which("runuser"):
                args = ["runuser", "-u", self.run_as.pw_name, "--", *args]
            else:
                args = [
                    "setpriv",
                    f"--reuid={self.run_as.pw_uid}",
                    f"--regid={self.run_as.pw_gid}",
                    "--clear-groups",
                    *args,
                ]
        return subprocess.run(args, capture_output=True, text=True, **kwargs)

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as is not None:
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        init = self._cmd(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth=md5",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100 -c shared_buffers=128MB -c TimeZone=UTC"
        ) + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        started = self._cmd(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if started.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{log}")
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(**self.params).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.datadir.exists():
            self._cmd([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> dict:
        return create_database(self.params, name)


def drop_database(params: dict, name: str) -> None:
    """Drop the database ``name`` (if it exists) on the server of ``params``."""
    import psycopg2

    connection = psycopg2.connect(**params)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'drop database if exists "{name}"')
    connection.close()


def create_database(params: dict, name: str) -> dict:
    """A fresh, empty database ``name`` on the server of ``params``; its connection fields."""
    import psycopg2

    drop_database(params, name)
    connection = psycopg2.connect(**params)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'create database "{name}"')
    connection.close()
    return {**params, "dbname": name}


def start_server(settings: dict[str, str] | None = None) -> PostgresServer:
    """Start a new server in a fresh temp dir under /tmp (short path: unix socket limit),
    with ``settings`` on top of the test defaults (a later ``-c`` wins)."""
    bindir = find_bindir()
    run_as = _ensure_user(SERVER_USER) if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="bxpg-", dir="/tmp"))
    server = PostgresServer(
        bindir=bindir, root=root, port=_free_port(), run_as=run_as, settings=dict(settings or {})
    )
    try:
        return server.start()
    except Exception:
        server.stop()
        raise


if __name__ == "__main__":  # manual use: start, print the DSN, wait for Ctrl-C
    server = start_server()
    print(server.dsn(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
