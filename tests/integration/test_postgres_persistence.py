"""The run's persistence on a real PostgreSQL server (started by the test session)."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, TypedDict
from urllib.parse import urlsplit

import optuna
import pytest
from langgraph.graph import END, START, StateGraph

from trainlab.persistence.stores import open_checkpointer_at, optuna_storage
from trainlab.persistence.urls import (
    DatabaseUrlError,
    check_database,
    parse_checkpointer_url,
    parse_storage_url,
)

pytestmark = pytest.mark.slow


class Counter(TypedDict):
    steps: Annotated[list[str], operator.add]


def counter_graph(checkpointer, interrupt: bool):
    builder = StateGraph(Counter)
    builder.add_node("first", lambda state: {"steps": ["first"]})
    builder.add_node("second", lambda state: {"steps": ["second"]})
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer, interrupt_before=["second"] if interrupt else None)


def test_postgres_checkpointer_round_trips_and_resumes(postgres_url: str, tmp_path: Path):
    db = parse_checkpointer_url(postgres_url, tmp_path)
    config = {"configurable": {"thread_id": "run-1"}}
    with open_checkpointer_at(db) as saver:
        halted = counter_graph(saver, interrupt=True).invoke({"steps": []}, config)
    with open_checkpointer_at(db) as saver:  # a new connection, as after a crash
        final = counter_graph(saver, interrupt=False).invoke(None, config)
    assert halted["steps"] == ["first"] and final["steps"] == ["first", "second"]


def test_postgres_study_is_shared_by_two_clients(postgres_url: str, tmp_path: Path):
    db = parse_storage_url(postgres_url, tmp_path)
    optuna.create_study(study_name="shared", storage=optuna_storage(db))
    first = optuna.load_study(study_name="shared", storage=optuna_storage(db))
    second = optuna.load_study(study_name="shared", storage=optuna_storage(db))
    first.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.5))
    second.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.7))
    assert sorted(t.value for t in first.get_trials()) == [0.5, 0.7]


def test_wrong_password_is_one_line_without_the_password(postgres_url: str, tmp_path: Path):
    parts = urlsplit(postgres_url)
    secret = "wrong-" + parts.password
    bad = postgres_url.replace(f":{parts.password}@", f":{secret}@")
    with pytest.raises(DatabaseUrlError) as info:
        check_database(parse_storage_url(bad, tmp_path))
    message = str(info.value)
    assert "password authentication failed" in message
    assert secret not in message and "\n" not in message


def test_unreachable_server_is_one_line_without_the_password(postgres_url: str, tmp_path: Path):
    parts = urlsplit(postgres_url)
    closed = postgres_url.replace(f":{parts.port}/", ":1/")
    with pytest.raises(DatabaseUrlError) as info:
        check_database(parse_checkpointer_url(closed, tmp_path), timeout_s=2)
    assert parts.password not in str(info.value) and "\n" not in str(info.value)
