"""Run folders, atomic JSON writes and the graph checkpointer: shared by every job."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

CHECKPOINT_DB = "checkpoints.sqlite"
OPTUNA_DB = "optuna.db"
ARTIFACT_MODE = 0o666  # before the umask, as open() creates files (0644 under umask 022)


class RunFolderError(RuntimeError):
    """A run folder that cannot be resumed: no checkpoint database, or an unreadable one."""


def new_run_dir(output_dir: Path, suffix: str = "") -> Path:
    """Create `<output_dir>/<timestamp>[suffix]`, unique even when called twice a second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        name = f"{stamp}{suffix}" + (f"-{attempt}" if attempt else "")
        path = output_dir / name
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"could not create a new run folder under {output_dir}")


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and the names of what lives in it; the one place a writer resolves
    a trial folder (the graph state keeps only the path string: wrap it at the node)."""

    path: Path  # a str, Path or RunFolder is accepted (it is os.PathLike)

    def __post_init__(self) -> None:
        # absolute: a resumed run may be started from another working directory
        object.__setattr__(self, "path", Path(os.fspath(self.path)).resolve())

    def __fspath__(self) -> str:
        return str(self.path)

    def trial(self, round_: int) -> Path:
        """Round k trains into trial_{k-1}/."""
        return self.path / f"trial_{round_ - 1}"

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def optuna_db(self) -> Path:
        """The run's Optuna study (SQLite; `optuna-dashboard RUN_DIR/optuna.db`)."""
        return self.path / OPTUNA_DB

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINT_DB

    @property
    def proposals(self) -> Path:
        """The proposal workflow's folder inside a lab run (JSON, Markdown, transcripts)."""
        return self.path / "proposals"

    @property
    def graph_png(self) -> Path:
        return self.path / "graph.png"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, ARTIFACT_MODE & ~_umask())  # mkstemp makes 0600; artifacts are shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


@contextmanager
def open_checkpointer(run_dir: Path, must_exist: bool = False) -> Iterator[SqliteSaver]:
    """The run's LangGraph checkpointer (`checkpoints.sqlite` in the run folder)."""
    db = run_dir / CHECKPOINT_DB
    if must_exist and not db.is_file():
        raise RunFolderError(f"no {CHECKPOINT_DB} in {run_dir}: not a resumable run folder")
    conn = sqlite3.connect(db, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    except sqlite3.DatabaseError as exc:
        raise RunFolderError(f"{db} is not a readable checkpoint database: {exc}") from exc
    finally:
        conn.close()
