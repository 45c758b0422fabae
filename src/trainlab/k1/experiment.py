"""The steps of the continual experiment that the K-1 graph's nodes call.

Every function takes plain values (settings, paths, indices) and returns plain records, so
graph state never holds a tensor. Learner state moves between steps through checkpoint
files under `checkpoints/<method>-s<seed>/`; a step writes a new file and leaves the one it
started from, so a crash at any point leaves the file the graph's last state points to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trainlab.k1.agents import AgentLM
from trainlab.k1.continual import (
    STRUCTURE_METHODS,
    Learner,
    load_model,
    save_model,
)
from trainlab.k1.data import (
    decode,
    encode,
    eval_windows,
    load_domain,
    load_tokens,
    save_domain,
)
from trainlab.k1.model import sample
from trainlab.k1.settings import K1Settings
from trainlab.runstore import read_json, write_json
from trainlab.training.device import machine as machine  # re-exported: graphs/k1.py reads it
from trainlab.training.device import resolve_device

CURVE_POINTS = 25  # per chunk: train loss is stored as this many bin means at most
HOLDOUT_FRACTION = 0.05  # structure methods: tail of each train split, never trained on
HOLDOUT_WINDOWS = 16  # held-out windows per seen domain for structural validation

Job = dict[str, Any]  # {"method": str, "seed": int}
DataPaths = dict[str, dict[str, str]]  # domain -> {"train": path, "val": path}


def plan_jobs(settings: K1Settings) -> list[Job]:
    return [{"method": m, "seed": s} for s in settings.seed_list for m in settings.methods]


def prepare_data(settings: K1Settings, run_dir: Path) -> DataPaths:
    """Load every domain, write token arrays and a manifest; returns the array paths."""
    paths, manifest = {}, {}
    for name in settings.domains:
        domain = load_domain(
            name, settings.source, settings.max_train_bytes, settings.max_val_bytes
        )
        paths[name] = save_domain(domain, run_dir / "data")
        manifest[name] = {
            "source": domain.source,
            "train_bytes": len(domain.train.encode()),
            "val_bytes": len(domain.val.encode()),
        }
    write_json(run_dir / "data" / "manifest.json", manifest)
    return paths


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return read_json(run_dir / "data" / "manifest.json")


def job_dir(run_dir: Path, job: Job) -> Path:
    return run_dir / "checkpoints" / f"{job['method']}-s{job['seed']}"


def _learner(settings: K1Settings, job: Job, ckpt: str | None) -> Learner:
    learner = Learner(
        job["method"], settings.learner_config(), job["seed"], resolve_device(settings.device)
    )
    if ckpt is not None:
        learner.load(Path(ckpt))
    return learner


def _commit(learner: Learner, folder: Path, name: str, previous: str | None) -> str:
    """Save learner state as `name`, then drop older step files except `previous`."""
    path = folder / name
    learner.save(path)
    keep = {path.resolve(), Path(previous).resolve() if previous else None}
    for old in folder.parent.glob("*/state-*.pt"):
        if old.resolve() not in keep:
            old.unlink(missing_ok=True)
    return str(path)


def _val_windows(settings: K1Settings, data: DataPaths) -> dict[str, torch.Tensor]:
    length = settings.seq_len + 1
    return {
        d: eval_windows(load_tokens(p["val"]), length, settings.eval_windows)
        for d, p in data.items()
    }


def _binned(values: list[float]) -> list[float]:
    size = max(1, -(-len(values) // CURVE_POINTS))
    return [
        round(sum(values[i : i + size]) / len(values[i : i + size]), 5)
        for i in range(0, len(values), size)
    ]


def train_chunk(
    settings: K1Settings,
    run_dir: Path,
    data: DataPaths,
    job: Job,
    domain_index: int,
    start: int,
    ckpt: str | None,
    on_step: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], str]:
    """Train one chunk of steps on one domain; returns the chunk record and the new ckpt."""
    learner = _learner(settings, job, ckpt)
    domain = settings.domains[domain_index]
    steps = min(settings.chunk_steps, settings.steps_per_domain - start)
    tokens = load_tokens(data[domain]["train"])
    if job["method"] in STRUCTURE_METHODS:
        tokens = split_holdout(tokens)[0]
    stats = learner.train(tokens, steps, on_step)
    val = {d: round(learner.evaluate(w), 5) for d, w in _val_windows(settings, data).items()}
    record = {
        **job,
        "domain": domain,
        "domain_index": domain_index,
        "start": start,
        "end": start + steps,
        "train_loss": _binned(stats.losses),
        "val_loss": val,
        "updates": stats.updates,
        "updated_params": stats.updated_params,
        "total_params": learner.updater.total_params,
        "seconds": round(stats.seconds, 4),
        "peak_memory_mb": stats.peak_memory_mb,
        "oom_events": stats.oom_events,
        "batch_size": learner.batch_size,
        "trust": {n: round(t, 4) for n, t in learner.updater.trust.items()},
    }
    if isinstance(learner.model, AgentLM):
        record["param_count"] = learner.model.param_count()
    name = f"state-d{domain_index}-step{start + steps:06d}.pt"
    return record, _commit(learner, job_dir(run_dir, job), name, ckpt)


def split_holdout(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(train part, held-out tail): structural decisions never see the report's val split."""
    cut = len(tokens) - max(1, int(len(tokens) * HOLDOUT_FRACTION))
    return tokens[:cut], tokens[cut:]


def holdout_windows(settings: K1Settings, data: DataPaths, domain_index: int):
    """Held-out windows of the domains seen so far, the current domain last."""
    seen = [*settings.domains[:domain_index], settings.domains[domain_index]]
    length = settings.seq_len + 1
    return {
        d: eval_windows(split_holdout(load_tokens(data[d]["train"]))[1], length, HOLDOUT_WINDOWS)
        for d in seen
    }


def structure_step(
    settings: K1Settings,
    run_dir: Path,
    data: DataPaths,
    job: Job,
    domain_index: int,
    step: int,
    ckpt: str,
) -> tuple[dict[str, Any], str]:
    """The structural step between chunks (k1_structure): operations, tuning, diagnostics."""
    learner = _learner(settings, job, ckpt)
    assert learner.controller is not None and isinstance(learner.model, AgentLM)
    domain = settings.domains[domain_index]
    total = domain_index * settings.steps_per_domain + step
    holdout = {
        d: w.to(learner.device) for d, w in holdout_windows(settings, data, domain_index).items()
    }
    events, notes = learner.controller.step(learner, domain, holdout, learner.evaluate, total)
    model = learner.model
    record = {
        **job,
        "domain": domain,
        "domain_index": domain_index,
        "step": step,
        "total_steps": total,
        "phase": learner.controller.phase,
        "events": events,
        "diagnostics": notes,
        "tree": model.structure()["tree"],
        "param_count": model.param_count(),
        "lr": learner.updater.lr,
        "thresholds": learner.controller.history[-1]["thresholds"],
        "val_holdout": learner.controller.history[-1]["val_all"],
        "agent_trust": {
            str(a): round(learner.updater.trust[f"agent_{a}"], 4) for a in model.agent_ids()
        },
    }
    name = f"state-d{domain_index}-step{step:06d}-s.pt"
    return record, _commit(learner, job_dir(run_dir, job), name, ckpt)


def evaluate_domain(
    settings: K1Settings, run_dir: Path, data: DataPaths, job: Job, domain_index: int, ckpt: str
) -> tuple[dict[str, Any], str]:
    """Row `domain_index` of R for this job; then consolidate the domain (EWC, replay)."""
    learner = _learner(settings, job, ckpt)
    domain = settings.domains[domain_index]
    losses = {d: learner.evaluate(w) for d, w in _val_windows(settings, data).items()}
    folder = job_dir(run_dir, job)
    snapshot = folder / f"after_{domain_index}_{domain}.pt"
    save_model(snapshot, learner.model)
    learner.end_domain(load_tokens(data[domain]["train"]))
    record = {**job, "after_index": domain_index, "after": domain, "losses": losses}
    record["snapshot"] = str(snapshot)
    return record, _commit(learner, folder, f"state-d{domain_index}-end.pt", ckpt)


def drop_step_states(run_dir: Path) -> None:
    """After the report: resumable learner states are no longer needed (snapshots stay)."""
    for path in (run_dir / "checkpoints").glob("*/state-*.pt"):
        path.unlink()


def generate_text(
    checkpoint: Path, prompt: str, max_new_tokens: int, temperature: float, seed: int, device: str
) -> str:
    """Sample a continuation of `prompt` from a saved model snapshot."""
    target = resolve_device(device)
    model = load_model(checkpoint, target)
    tokens = torch.from_numpy(encode(prompt or "\n").astype("int64")).to(target)
    generator = torch.Generator(device=target).manual_seed(seed)
    out = sample(model, tokens, max_new_tokens, temperature, generator=generator)
    return decode(out.tolist())
