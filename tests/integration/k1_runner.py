"""Shared by the K-1 graph tests: tiny settings and a run of the real graph with a callback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainlab.graphs.k1 import build_k1_graph, initial_state, run_config
from trainlab.k1.settings import K1Settings
from trainlab.runstore import open_checkpointer

TINY = K1Settings(
    domains=("prose", "code"),
    baselines=("dense",),
    seeds=1,
    steps_per_domain=6,
    chunk_steps=2,
    refresh_every=2,
    d_model=16,
    n_layers=2,
    n_heads=2,
    seq_len=32,
    batch_size=4,
    max_train_bytes=20_000,
    max_val_bytes=2_000,
    eval_windows=4,
)


class Crash(RuntimeError):
    """Stands in for a killed process."""


def run_graph(
    settings: K1Settings, run_dir: Path, on_event: Callable[[str, dict], None] | None = None
) -> dict:
    """Run (or resume, when the run folder has a checkpoint) the K-1 graph to the end."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_checkpointer(run_dir) as saver:
        graph, _ = build_k1_graph(saver, on_event)
        config = run_config(run_dir, settings)
        start = None if graph.get_state(config).values else initial_state(settings, run_dir)
        return graph.invoke(start, config, durability="sync")
