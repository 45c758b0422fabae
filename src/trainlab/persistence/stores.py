"""Open the run's stores from parsed URLs: the LangGraph checkpointer and the Optuna storage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainlab.persistence.urls import CONNECT_TIMEOUT_S, DatabaseUrl, check_database


@contextmanager
def open_checkpointer_at(db: DatabaseUrl, must_exist: bool = False) -> Iterator[Any]:
    """SqliteSaver on the run folder's checkpoints.sqlite, or PostgresSaver on the server."""
    if db.kind == "sqlite":
        from trainlab.runstore import open_checkpointer

        with open_checkpointer(Path(db.url).parent, must_exist=must_exist) as saver:
            yield saver
        return
    from langgraph.checkpoint.postgres import PostgresSaver

    check_database(db)
    with PostgresSaver.from_conn_string(db.url) as saver:
        saver.setup()
        yield saver


def optuna_storage(db: DatabaseUrl) -> Any:
    """Optuna's RDBStorage for the study (several processes or machines may share it)."""
    import optuna

    check_database(db)
    engine_kwargs: dict[str, Any] = {}
    if db.kind == "postgresql":
        engine_kwargs = {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S},
        }
    return optuna.storages.RDBStorage(db.sqlalchemy, engine_kwargs=engine_kwargs)
