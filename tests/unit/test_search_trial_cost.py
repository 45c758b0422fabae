"""A lab trial's cost: the batch it starts at under --max-memory-mb, and what it records."""

from __future__ import annotations

import torch
from lab_records import trial_summary

from trainlab import space
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.search.trial_cost import plan_batch, start_batch, with_cost
from trainlab.tools.cost import fitting_batch, latency_ms, trainable_parameters
from trainlab.training.data import load_splits
from trainlab.training.models import ResNet9

CPU = torch.device("cpu")


def lab_settings(tmp_path, **fields) -> LabSettings:
    return LabSettings(data=DataSettings(dataset="digits", data_dir=tmp_path),
                       train=TrainSettings(model_width=8, device="cpu"), **fields)  # fmt: skip


def test_the_executor_starts_at_the_largest_batch_under_the_memory_budget(tmp_path) -> None:
    data = load_splits(DataSettings(dataset="digits", data_dir=tmp_path), 0)
    measured = fitting_batch(data, 8, CPU, 1e9, 128).measured_mb
    budget = (measured[64] + measured[128]) / 2  # 64 fits, 128 does not
    settings = lab_settings(tmp_path, max_memory_mb=budget)
    hp = space.defaults().model_copy(update={"train_batch_size": 256})
    choice = plan_batch(settings, data, tmp_path / "trial_0", 8, hp)
    assert start_batch(choice) == 64 and set(choice.measured_mb) == {32, 64, 128}
    trained = hp.model_copy(update={"train_batch_size": 64})
    summary = with_cost(settings, trial_summary(hp, effective_hparams=trained), data, 8, choice)
    assert summary.memory_mb == choice.measured_mb[64] <= budget
    assert "batch finder: batch 128 needs" in summary.warnings[-1]
    assert summary.latency_ms is None  # one objective: no latency measured


def test_no_budget_means_no_probe_and_the_requested_batch(tmp_path) -> None:
    data = load_splits(DataSettings(dataset="digits", data_dir=tmp_path), 0)
    choice = plan_batch(lab_settings(tmp_path), data, tmp_path, 8, space.defaults())
    assert choice is None and start_batch(choice) is None


def test_multi_objective_trials_record_latency_and_parameters(tmp_path) -> None:
    settings = lab_settings(tmp_path, objective=("accuracy", "params"))
    data = load_splits(settings.data, 0)
    summary = with_cost(settings, trial_summary(space.defaults()), data, 16, None)
    model = ResNet9(data.num_classes, data.in_channels, width=16)
    assert summary.param_count == trainable_parameters(model) > 0
    assert summary.latency_ms is not None and summary.latency_ms > 0
    assert latency_ms(model, (1, 8, 8), CPU, warmup=1, repeats=3) > 0


def test_latency_is_measured_on_one_cpu_thread_and_the_threads_are_restored() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.get_num_threads())
            return x

    try:
        assert latency_ms(Probe(), (1, 2, 2), CPU, warmup=1, repeats=2) >= 0
        assert seen == [1, 1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
