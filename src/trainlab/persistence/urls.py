"""Database URLs for the run's persistence: parse, check, and redact them.

`--checkpointer`: `sqlite` (the run folder's checkpoints.sqlite) or `postgresql://…`;
`--storage` (the Optuna study): `sqlite:///<path>` (default: the run folder's optuna.db) or
`postgresql://…`. A password never reaches config.json, logs or reports: records hold
`redacted` (password → ***); the real URL lives only in memory, taken from the command line
or, when the URL has no password (or the redacted one, as on `--resume` from config.json),
from the TRAINLAB_DB_PASSWORD environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DB_PASSWORD_ENV = "TRAINLAB_DB_PASSWORD"
REDACTED = "***"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
CONNECT_TIMEOUT_S = 5


class DatabaseUrlError(ValueError):
    """A database URL that cannot be used: one line naming the option, never the password."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL. `url` holds the secret: never write it anywhere."""

    option: str  # the flag it came from, for error messages
    kind: Literal["sqlite", "postgresql"]
    url: str  # sqlite: a file path; postgresql: a libpq URI with the password

    @property
    def redacted(self) -> str:
        return redact_url(self.url) if self.kind == "postgresql" else f"sqlite:///{self.url}"

    @property
    def sqlalchemy(self) -> str:
        """The URL for SQLAlchemy (Optuna's RDBStorage): the psycopg 3 driver for Postgres."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.url}"
        return "postgresql+psycopg" + self.url[self.url.index("://") :]

    def scrub(self, text: str) -> str:
        """`text` with this URL's password replaced (for messages from drivers)."""
        password = urlsplit(self.url).password if self.kind == "postgresql" else None
        if not password:
            return text
        return text.replace(password, REDACTED).replace(quote(password, safe=""), REDACTED)


def redact_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{netloc}"))


def parse_checkpointer_url(value: str, run_dir: Path) -> DatabaseUrl:
    """`sqlite` (the run folder's checkpoints.sqlite) or a PostgreSQL URL."""
    if value == "sqlite":
        from trainlab.runstore import CHECKPOINT_DB

        return DatabaseUrl("--checkpointer", "sqlite", str(Path(run_dir) / CHECKPOINT_DB))
    return _parse_postgres(value, "--checkpointer", "'sqlite' or postgresql://user@host/db")


def parse_storage_url(value: str | None, run_dir: Path) -> DatabaseUrl:
    """`sqlite:///<path>` (default: the run folder's optuna.db) or a PostgreSQL URL."""
    if value is None:
        return DatabaseUrl("--storage", "sqlite", str(Path(run_dir) / "optuna.db"))
    if value.startswith("sqlite:///"):
        path = value.removeprefix("sqlite:///")
        if not path:
            raise DatabaseUrlError("--storage sqlite:/// needs a file path: sqlite:///<path>")
        return DatabaseUrl("--storage", "sqlite", path)
    return _parse_postgres(value, "--storage", "sqlite:///<path> or postgresql://user@host/db")


def check_database(db: DatabaseUrl, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Connect once with a short timeout; a failure is one redacted line."""
    if db.kind == "sqlite":
        if not Path(db.url).parent.is_dir():
            raise DatabaseUrlError(f"{db.option} {db.redacted}: no folder {Path(db.url).parent}")
        return
    import psycopg

    try:
        with psycopg.connect(db.url, connect_timeout=max(1, round(timeout_s))):
            pass
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())[:240]
        raise DatabaseUrlError(f"{db.option} {db.redacted}: {db.scrub(detail)}") from None


def _parse_postgres(value: str, option: str, expected: str) -> DatabaseUrl:
    parts = urlsplit(value)
    if parts.scheme not in POSTGRES_SCHEMES:
        shown = f"{parts.scheme}://…" if parts.scheme else redact_url(value)[:60]
        raise DatabaseUrlError(f"{option} must be {expected}, got {shown}")
    try:
        port = parts.port
    except ValueError:
        raise DatabaseUrlError(f"{option} {redact_url(value)}: the port is not a number") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise DatabaseUrlError(
            f"{option} {redact_url(value)}: name a host and a database (…@host:port/db)"
        )
    user = unquote(parts.username or "")
    password = _password(parts.password)
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    netloc = f"{auth}@{parts.hostname}" + (f":{port}" if port else "")
    url = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
    return DatabaseUrl(option, "postgresql", url)


def _password(given: str | None) -> str:
    """The URL's own password, else TRAINLAB_DB_PASSWORD (a redacted URL carries none)."""
    if given and unquote(given) != REDACTED:
        return unquote(given)
    return os.environ.get(DB_PASSWORD_ENV, "")
