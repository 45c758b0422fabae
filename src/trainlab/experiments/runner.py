"""Run a component against its baseline through the trainer, seed by seed, and compare.

Every trial goes through `trainlab.training.trainer.run_trial` with `TrialComponents`; there
is no other training loop. Layout under the runner's folder:

    <experiment name>/experiment.json, curves.png, paired.png
    <experiment name>/<model>-<optimizer>-<loss>-<hash>/seed-<n>/   trial + record.json

A finished trial's record is reused when the same experiment runs again in the same folder.
Each experiment trains its own baseline, seed by seed in turn with the candidate, so that
wall times are paired under the same machine load.
Every arm trains for the same fixed budget and its final weights are scored (not the best
epoch's). During evaluation every arm's loss is cross-entropy, so the recorded validation
loss is the negative log-likelihood whatever the training loss.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.components import registry
from trainlab.components.classifiers import count_parameters, matched_plain_mlp
from trainlab.experiments.config import PLAIN, ArmSpec, ExperimentConfig
from trainlab.experiments.plots import save_plots
from trainlab.experiments.results import ArmResult, ExperimentResult, SeedRecord
from trainlab.experiments.stats import Comparison, compare
from trainlab.runstore import read_json, write_json
from trainlab.space import HParams
from trainlab.training.artifacts import METRICS_CSV
from trainlab.training.data import ImageSplits, load_splits
from trainlab.training.device import machine_description
from trainlab.training.trainer import TrialComponents, run_trial

RECORD = "record.json"
RESULT = "experiment.json"
STATE_BATCH = 64  # images for the one step after which state memory is measured
# (field of SeedRecord, higher is better); peak memory only where it is per trial (CUDA).
METRICS: tuple[tuple[str, bool], ...] = (
    ("test_acc", True),
    ("test_f1", True),
    ("test_ece", False),
    ("val_nll", False),
    ("seconds", False),
)
CUDA_METRICS: tuple[tuple[str, bool], ...] = (("peak_memory_mb", False),)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ExperimentRunner:
    """Runs experiments into `out_dir`; `log` receives one line per finished trial."""

    def __init__(self, out_dir: Path, log: Callable[[str], None] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.log = log or (lambda line: None)

    def run(self, config: ExperimentConfig) -> ExperimentResult:
        candidate, baseline = config.candidate, config.baseline
        if baseline.model == PLAIN:
            data = _data(config, config.first_seed)
            size = count_parameters(_model(candidate, _context(config, data), data))
            baseline = baseline.model_copy(update={"match_parameters": size})
        # Measuring each arm's size first also warms up the process before anything is timed.
        sizes = {arm: self._size(config, arm) for arm in (baseline, candidate)}
        records: dict[ArmSpec, list[SeedRecord]] = {baseline: [], candidate: []}
        for seed in config.seed_list:
            for arm in (baseline, candidate):
                records[arm].append(self._seed(config, arm, seed))
        arms = [ArmResult(**sizes[arm], records=records[arm]) for arm in (baseline, candidate)]
        comparisons = _compare(config, *arms)
        directory = self.out_dir / config.name
        result = ExperimentResult(
            name=config.name,
            config=config,
            baseline=arms[0],
            candidate=arms[1],
            comparisons=comparisons,
            verdict=next(c.verdict for c in comparisons if c.metric == "test_acc"),
            device=records[candidate][0].device,
            machine=machine_description(),
            created=datetime.now().isoformat(timespec="seconds"),
            directory=str(directory),
        )
        write_json(directory / RESULT, result.model_dump(mode="json"))
        save_plots(result, directory)
        return result

    def _seed(self, config: ExperimentConfig, arm: ArmSpec, seed: int) -> SeedRecord:
        trial_dir = self.out_dir / config.name / config.arm_key(arm) / f"seed-{seed}"
        if (trial_dir / RECORD).is_file():
            return SeedRecord.model_validate(read_json(trial_dir / RECORD))
        data = _data(config, seed)
        components = trial_components(arm, _context(config, data), data)
        summary = run_trial(
            config.hparams(arm),
            config.train_settings(seed),
            data,
            trial_dir,
            components=components,
        )
        history = _read_history(trial_dir / METRICS_CSV)
        record = SeedRecord(
            seed=seed,
            status=summary.status,
            reason=summary.reason,
            test_acc=summary.test_acc,
            test_f1=summary.test_f1,
            test_ece=summary.test_ece,
            val_nll=summary.best_val_loss,
            final_train_loss=history[-1]["train_loss"] if history else None,
            seconds=summary.seconds,
            peak_memory_mb=summary.peak_memory_mb,
            device=summary.device,
            epochs_run=summary.epochs_run,
            val_acc_curve=[row["val_acc"] for row in history],
            train_loss_curve=[row["train_loss"] for row in history],
            trial_dir=str(trial_dir),
        )
        write_json(trial_dir / RECORD, record.model_dump(mode="json"))
        self.log(_describe(arm, record))
        return record

    def _size(self, config: ExperimentConfig, arm: ArmSpec) -> dict[str, Any]:
        """An arm's description, parameter count and state memory (all but its records)."""
        data = _data(config, config.first_seed)
        ctx = _context(config, data)
        model = _model(arm, ctx, data)
        return {
            "spec": arm,
            "label": arm.label,
            "learning_rate": config.learning_rate_for(arm),
            "parameters": count_parameters(model),
            "state_mb": round(state_megabytes(model, arm, ctx, config, data), 3),  # to ~1 KB
        }


def _data(config: ExperimentConfig, seed: int) -> ImageSplits:
    return load_splits(config.data_settings(), seed)


def trial_components(
    arm: ArmSpec, ctx: registry.BuildContext, data: ImageSplits
) -> TrialComponents:
    """The arm's model, optimizer and loss for run_trial; the final weights are scored."""
    built: dict[str, nn.Module] = {}

    def build_model(num_classes: int, in_channels: int) -> nn.Module:
        built["model"] = _model(arm, ctx, data, num_classes, in_channels)
        return built["model"]

    def build_optimizer(params: list[nn.Parameter], hp: HParams) -> torch.optim.Optimizer:
        with_model = replace(ctx, model=built.get("model"))
        return registry.get(arm.optimizer).build(params, hp, with_model)

    return TrialComponents(
        build_model=build_model,
        build_optimizer=build_optimizer,
        loss_fn=nll_when_evaluating(registry.get(arm.loss).build(ctx)),
        score_last_epoch=True,
    )


def _context(config: ExperimentConfig, data: ImageSplits) -> registry.BuildContext:
    steps_per_epoch = max(1, len(data.train_y) // config.batch_size)  # as the trainer counts
    return registry.BuildContext(
        num_classes=data.num_classes,
        total_steps=steps_per_epoch * config.epochs,
        steps_per_epoch=steps_per_epoch,
        width=config.width,
        base_optimizer=config.base_optimizer,
    )


def _model(
    arm: ArmSpec,
    ctx: registry.BuildContext,
    data: ImageSplits,
    num_classes: int | None = None,
    in_channels: int | None = None,
) -> nn.Module:
    n = num_classes or data.num_classes
    c = in_channels or data.in_channels
    if arm.match_parameters is not None:
        return matched_plain_mlp(n, c, arm.match_parameters)
    return registry.get(arm.model).build(n, c, ctx)


def nll_when_evaluating(loss_fn: LossFn) -> LossFn:
    """`loss_fn` while training (gradients on), cross-entropy while evaluating."""

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return loss_fn(logits, targets)
        return F.cross_entropy(logits, targets)

    return loss


def tensor_bytes(obj: Any) -> int:
    """Bytes of every tensor inside nested dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def state_megabytes(
    model: nn.Module,
    arm: ArmSpec,
    ctx: registry.BuildContext,
    config: ExperimentConfig,
    data: ImageSplits,
) -> float:
    """Parameters + buffers + optimizer state after one step on a few training images."""
    with torch.random.fork_rng():
        build = registry.get(arm.optimizer).build
        optimizer = build(list(model.parameters()), config.hparams(arm), replace(ctx, model=model))
        x = data.train_x[:STATE_BATCH].float() / 255
        F.cross_entropy(model(x), data.train_y[:STATE_BATCH]).backward()
        optimizer.step()
    held = tensor_bytes(model.state_dict()) + tensor_bytes(optimizer.state_dict())
    return held / 2**20


def _compare(
    config: ExperimentConfig, baseline: ArmResult, candidate: ArmResult
) -> list[Comparison]:
    on_cuda = candidate.records[0].device.startswith("cuda")
    metrics = METRICS + (CUDA_METRICS if on_cuda else ())
    comparisons = []
    for metric, higher in metrics:
        pairs = [
            (b, c)
            for b, c in zip(baseline.values(metric), candidate.values(metric), strict=True)
            if b is not None and c is not None
        ]
        b_values, c_values = [p[0] for p in pairs], [p[1] for p in pairs]
        comparisons.append(
            compare(metric, b_values, c_values, higher_is_better=higher, alpha=config.alpha)
        )
    comparisons.append(
        compare(
            "state_mb",
            [baseline.state_mb] * config.seeds,
            [candidate.state_mb] * config.seeds,
            higher_is_better=False,
            alpha=config.alpha,
        )
    )
    return comparisons


def _read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _describe(arm: ArmSpec, record: SeedRecord) -> str:
    if record.test_acc is None:
        return f"{arm.label} seed {record.seed}: {record.status} ({record.reason})"
    return (
        f"{arm.label} seed {record.seed}: acc {record.test_acc:.4f}  "
        f"ece {record.test_ece:.4f}  {record.seconds:.1f}s"
    )
