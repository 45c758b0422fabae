"""Database URLs: parsing, redaction, the password from the environment, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.persistence.stores import open_checkpointer_at, optuna_storage
from trainlab.persistence.urls import (
    DB_PASSWORD_ENV,
    DatabaseUrlError,
    check_database,
    parse_checkpointer_url,
    parse_storage_url,
    redact_url,
)

URL = "postgresql://lab:s3cret@db.example:5432/trainlab"


def test_redact_replaces_only_the_password():
    assert redact_url(URL) == "postgresql://lab:***@db.example:5432/trainlab"


def test_redact_leaves_a_url_without_password_alone():
    assert redact_url("postgresql://lab@db/x") == "postgresql://lab@db/x"


def test_defaults_are_sqlite_files_in_the_run_folder(tmp_path: Path):
    checkpointer = parse_checkpointer_url("sqlite", tmp_path)
    storage = parse_storage_url(None, tmp_path)
    assert checkpointer.url == str(tmp_path / "checkpoints.sqlite")
    assert storage.sqlalchemy == f"sqlite:///{tmp_path / 'optuna.db'}"


def test_postgres_url_uses_psycopg3_for_sqlalchemy(tmp_path: Path):
    db = parse_storage_url(URL, tmp_path)
    assert db.sqlalchemy == "postgresql+psycopg://lab:s3cret@db.example:5432/trainlab"


def test_redacted_url_takes_the_password_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(DB_PASSWORD_ENV, "from-env")
    db = parse_checkpointer_url(redact_url(URL), tmp_path)  # as read back from config.json
    assert db.url == "postgresql://lab:from-env@db.example:5432/trainlab"
    assert db.redacted == redact_url(URL)


@pytest.mark.parametrize(
    ("parse", "value", "option"),
    [
        (parse_checkpointer_url, "mysql://lab:s3cret@db/x", "--checkpointer"),
        (parse_storage_url, "mysql://lab:s3cret@db/x", "--storage"),
        (parse_storage_url, "postgresql://lab:s3cret@db", "--storage"),
        (parse_storage_url, "postgresql://lab:s3cret@db:port/x", "--storage"),
        (parse_storage_url, "sqlite:///", "--storage"),
    ],
)
def test_bad_urls_name_the_option_and_hide_the_password(parse, value, option, tmp_path):
    with pytest.raises(DatabaseUrlError) as info:
        parse(value, tmp_path)
    message = str(info.value)
    assert message.startswith(option) and "s3cret" not in message and "\n" not in message


def test_sqlite_stores_live_in_the_run_folder(tmp_path: Path):
    with open_checkpointer_at(parse_checkpointer_url("sqlite", tmp_path)) as saver:
        assert saver.get_tuple({"configurable": {"thread_id": "none"}}) is None
    optuna_storage(parse_storage_url(None, tmp_path))
    assert {p.name for p in tmp_path.iterdir()} == {"checkpoints.sqlite", "optuna.db"}


def test_sqlite_storage_in_a_missing_folder_is_one_line(tmp_path: Path):
    db = parse_storage_url(f"sqlite:///{tmp_path / 'missing' / 'optuna.db'}", tmp_path)
    with pytest.raises(DatabaseUrlError, match=r"^--storage .*: no folder"):
        check_database(db)
