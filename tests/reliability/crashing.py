"""Fault injection for the reliability suite: run the lab CLI in a child process that SIGKILLs
itself at a chosen point, or counts how often each point is reached.

A kill point is `KIND:TARGET:K`:
    after_write:CHANNEL:K   die inside the checkpoint save of the step whose task wrote CHANNEL
                            the K-th time (e.g. `finals`: the supervisor), once that task's
                            writes are saved as pending: the step's checkpoint is never written
    after_put:-:K           die right after the K-th checkpoint is saved
    after_call:MOD.FUNC:K   die when the K-th call of MOD.FUNC returns
    before_call:MOD.FUNC:K  die when MOD.FUNC is called the K-th time (before it runs)

    python tests/reliability/crashing.py KILL_POINT -- [lab flags]      (exits by SIGKILL)
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the functions a kill point may name (each called through its module's global, so patchable)
CALLS = (
    "trainlab.training.checkpoint.save_last",  # training: after an epoch's checkpoint_last.pt
    "trainlab.training.artifacts.write_trial_artifacts",  # training: the trial's summary.json
    "trainlab.lab.write_json",  # analysis.json, research.json (and config.json)
    "trainlab.reporting.run_report.plot_progress",  # record: after trials_summary.csv
    "trainlab.graphs.hpo.write_report",  # finalize: report.md
)
CHANNELS = ("proposals", "finals", "trials", "analyses", "research", "best")


@dataclass(frozen=True)
class KillPoint:
    kind: str  # after_write, after_put, after_call, before_call
    target: str
    k: int

    @classmethod
    def parse(cls, text: str) -> KillPoint:
        kind, target, k = text.rsplit(":", 2) if text.count(":") >= 2 else (text, "-", "0")
        return cls(kind, target, int(k))

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}:{self.k}"

    def event(self) -> str:
        """The counter this point fires on (as `count_events` names them)."""
        return "put" if self.kind == "after_put" else f"{self.kind.split('_')[-1]}:{self.target}"


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Injector:
    """Counts events; dies at the kill point (None: only counts)."""

    def __init__(self, point: KillPoint | None) -> None:
        self.point, self.counts, self.saves_with = point, Counter(), Counter()

    def seen(self, event: str, when: str) -> None:
        self.counts[event] += when == "after"  # count each event once, after it happened
        p = self.point
        if p is None or p.event() != event:
            return
        n = self.counts[event] + (when == "before")
        if n == p.k and when == p.kind.split("_")[0] and p.kind != "after_write":
            die()

    def saving(self, new_versions: Any) -> None:
        """A checkpoint save begins (LangGraph saves in a thread, racing the pending writes)."""
        p = self.point
        self.saves_with.update(set(new_versions) & set(CHANNELS))
        if p is None or p.kind != "after_write" or p.target not in new_versions:
            return
        if self.saves_with[p.target] == p.k:
            deadline = time.monotonic() + 30
            while self.counts[p.event()] < p.k and time.monotonic() < deadline:
                time.sleep(0.01)  # until the task's writes are saved as pending
            die()

    def install(self) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        injector = self
        original_put, original_writes = SqliteSaver.put, SqliteSaver.put_writes

        def put(self: Any, config: Any, checkpoint: Any, metadata: Any, versions: Any) -> Any:
            injector.saving(versions)
            result = original_put(self, config, checkpoint, metadata, versions)
            injector.seen("put", "after")
            return result

        def put_writes(self: Any, config: Any, writes: Any, task_id: str, *rest: Any) -> Any:
            result = original_writes(self, config, writes, task_id, *rest)
            for channel in {c for c, _ in writes} & set(CHANNELS):
                injector.seen(f"write:{channel}", "after")
            return result

        SqliteSaver.put, SqliteSaver.put_writes = put, put_writes
        for name in CALLS:
            self._wrap(name)

    def _wrap(self, dotted: str) -> None:
        module_name, func = dotted.rsplit(".", 1)
        module = importlib.import_module(module_name)
        original = getattr(module, func)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.seen(f"call:{dotted}", "before")
            result = original(*args, **kwargs)
            self.seen(f"call:{dotted}", "after")
            return result

        setattr(module, func, wrapper)


@contextlib.contextmanager
def _redirected(path: Path) -> Iterator[None]:
    """stdout and stderr of this (child) process into `path` (the descriptors and the Python
    streams: pytest replaces the latter)."""
    with path.open("w", buffering=1) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        sys.stdout = sys.stderr = out
        yield


def run_child(
    argv: list[str], log: Path, point: KillPoint | None = None, counts: Path | None = None
) -> int:
    """Run `main.py argv` in a forked child (the parent's imports reused: fast); return its
    exit status, or -9 when it killed itself. `counts` receives the event counts."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            with _redirected(log):
                status = _main(argv, point, counts)
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def preload() -> None:
    """Import what a lab run imports, so forked children start at once."""
    import trainlab.commands.lab
    import trainlab.graphs.hpo
    import trainlab.reporting.console
    import trainlab.reporting.graph_png
    import trainlab.training.trainer  # noqa: F401


def _main(argv: list[str], point: KillPoint | None, counts: Path | None) -> int:
    from trainlab.cli import main

    preload()  # also makes every wrapped name importable

    injector = Injector(point)
    injector.install()
    status = main(argv)
    if counts is not None:
        counts.write_text(json.dumps(injector.counts))
    return status


def subprocess_main(args: list[str]) -> Callable[[], int]:
    """`crashing.py KILL_POINT -- flags`: the same, as a real process started from scratch."""
    split = args.index("--")
    point = KillPoint.parse(args[0]) if args[0] != "count" else None

    def run() -> int:
        return _main(args[split + 1 :], point, None)

    return run


if __name__ == "__main__":
    sys.exit(subprocess_main(sys.argv[1:])())
