"""Run folders, atomic JSON writes and the graph checkpointer: shared by every job.

A lab run folder records its LangGraph thread and whether its graph reached the end in
run.json, so a run resumes wherever its folder now lives and whatever it is now called; a lock
file held with flock keeps a second process out while the first one runs.
"""

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # langgraph is imported when a checkpointer is opened
    from langgraph.checkpoint.sqlite import SqliteSaver

CHECKPOINT_DB = "checkpoints.sqlite"
RUN_RECORD = "run.json"
LOCK_FILE = ".lock"
OPTUNA_DB = "optuna.db"
ARTIFACT_MODE = 0o666  # before the umask, as open() creates files (0644 under umask 022)
PROBE_BYTES = 1 << 16  # written once where runs go: a full disk is found before a run starts


class RunFolderError(RuntimeError):
    """A run folder that cannot be resumed (no or a damaged checkpoint database) or is in use."""


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

    # --- run.json: the thread, and whether the graph reached its end

    @property
    def record(self) -> Path:
        return self.path / RUN_RECORD

    def begin(self, thread_id: str | None = None) -> None:
        """Record the run's LangGraph thread (a new run: its folder's name now, kept when the
        folder moves or is renamed)."""
        write_json(self.record, {"thread_id": thread_id or self.path.name, "finished": False})

    def thread_id(self, saver: SqliteSaver) -> str:
        """The run's thread: from run.json; a run older than run.json: the one thread of its
        checkpoints (else the folder's name, as such runs were started)."""
        if self.record.is_file():
            return read_json(self.record)["thread_id"]
        rows = saver.conn.execute(
            "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
        ).fetchall()
        return rows[0][0] if len(rows) == 1 else self.path.name

    @property
    def finished(self) -> bool:
        """Whether the run's graph reached its end (the final report is written)."""
        return self.record.is_file() and bool(read_json(self.record).get("finished"))

    def mark_finished(self, finished: bool = True) -> None:
        record = read_json(self.record) if self.record.is_file() else {"thread_id": self.path.name}
        write_json(self.record, record | {"finished": finished})

    # --- one process at a time

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process: a second one is refused. flock is released by the
        OS when the holder ends, however it ends (a SIGKILL leaves nothing stuck)."""
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            yield
            return
        with (self.path / LOCK_FILE).open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunFolderError(
                    f"{self.path} is in use by another trainlab run ({holder}); wait for it to "
                    "finish or stop it, then resume"
                ) from None
            except OSError:  # a filesystem without locks (some network mounts): run unlocked
                pass
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, since {datetime.now():%Y-%m-%d %H:%M:%S}\n")
            handle.flush()
            yield

    def intact(self) -> str:
        """What a damaged checkpoint store leaves usable: the files and finished trials."""
        trials = sorted(p.name for p in self.path.glob("trial_*") if p.is_dir())
        done = [t for t in trials if (self.path / t / "summary.json").is_file()]
        files = sorted(
            p.name
            for p in self.path.iterdir()
            if p.is_file() and p.suffix in (".json", ".csv", ".md") and p.name != RUN_RECORD
        )
        parts = [", ".join(files)] if files else []
        if trials:
            parts.append(f"{len(done)} finished trial folders of {len(trials)} ({', '.join(done)})")
        return "; ".join(parts) or "nothing else"


def check_writable(directory: Path) -> None:
    """Create `directory` if needed and write a probe file there, so that a path naming a
    file, a read-only or a full disk is found before anything starts (a ValueError says why)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError("it is a file, not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None


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
    """The run's LangGraph checkpointer (`checkpoints.sqlite` in the run folder). With
    `must_exist` (a resume), a missing, empty, damaged or checkpoint-less database is a
    RunFolderError that says what in the folder is still intact."""
    from trainlab.persistence.compact_sqlite import CompactSqliteSaver

    db = Path(run_dir) / CHECKPOINT_DB
    if must_exist and not db.is_file():
        raise RunFolderError(f"no {CHECKPOINT_DB} in {run_dir}: not a resumable run folder")
    if must_exist and db.stat().st_size == 0:
        raise _damaged(db, "it is empty (0 bytes)")
    conn = sqlite3.connect(db, check_same_thread=False)
    try:
        if must_exist:
            _check_database(conn, db)
        saver = CompactSqliteSaver(conn)
        saver.setup()
        yield saver
    except sqlite3.DatabaseError as exc:
        raise _damaged(db, f"not a readable checkpoint database: {exc}") from exc
    finally:
        conn.close()


def _check_database(conn: sqlite3.Connection, db: Path) -> None:
    """SQLite's own consistency check, then: does it hold any checkpoint at all?"""
    verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise _damaged(db, f"not a readable checkpoint database: {verdict}")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "checkpoints" not in tables or not conn.execute("SELECT 1 FROM checkpoints").fetchone():
        raise _damaged(db, "it holds no checkpoint")


def _damaged(db: Path, reason: str) -> RunFolderError:
    intact = RunFolder(db.parent).intact()
    return RunFolderError(
        f"cannot resume from {db}: {reason}. Intact: {intact}. Start a new run to train again"
    )
