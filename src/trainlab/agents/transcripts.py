"""Transcripts: each agent exchange of a round, one JSON line in `transcripts/round_<k>.jsonl`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainlab.agents.credentials import Redactor


class TranscriptSink:
    """Appends redacted entries under the run folder the provider names (nothing when None)."""

    def __init__(self, run_dir: Callable[[], Path | None], redact: Redactor) -> None:
        self._run_dir, self._redact = run_dir, redact
        self._lock = threading.Lock()

    def write(self, round_: int, entry: dict[str, Any]) -> None:
        run_dir = self._run_dir()
        if run_dir is None:
            return
        stamped = {"time": datetime.now(timezone.utc).isoformat(), "round": round_, **entry}
        line = self._redact(json.dumps(stamped, ensure_ascii=False, default=str))
        path = Path(run_dir) / "transcripts" / f"round_{round_}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
