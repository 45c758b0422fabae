"""The experiment framework: statistics on hand-made numbers, configs, and a tiny real run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from trainlab.components import registry
from trainlab.components.classifiers import count_parameters, matched_plain_mlp
from trainlab.experiments import ExperimentConfig, ExperimentRunner
from trainlab.experiments.report import comparison_table, suite_markdown
from trainlab.experiments.runner import nll_when_evaluating, tensor_bytes
from trainlab.experiments.stats import compare, mean_ci


def test_mean_ci_matches_the_t_interval_by_hand() -> None:
    mean, half = mean_ci([1.0, 2.0, 3.0, 4.0])
    sd = math.sqrt(5 / 3)
    assert mean == 2.5
    assert half == pytest.approx(3.182446 * sd / 2, rel=1e-5)  # t(0.975, 3) = 3.1824
    assert math.isnan(mean_ci([7.0])[1])


def test_paired_test_finds_a_consistent_improvement() -> None:
    baseline = [0.90, 0.92, 0.91, 0.93, 0.90]
    candidate = [b + d for b, d in zip(baseline, [0.020, 0.021, 0.019, 0.022, 0.020], strict=True)]
    c = compare("test_acc", baseline, candidate, higher_is_better=True)
    assert c.verdict == "better"
    assert c.diff_mean == pytest.approx(0.0204)
    assert c.p_value < 1e-4
    assert c.diff_mean - c.diff_ci > 0


def test_noise_is_no_significant_difference_and_lower_is_better_flips_direction() -> None:
    baseline = [0.10, 0.20, 0.15, 0.12]
    noisy = [0.12, 0.17, 0.16, 0.10]
    c = compare("test_ece", baseline, noisy, higher_is_better=False)
    assert c.verdict == "no significant difference"
    assert c.p_value > 0.05
    assert c.diff_ci > abs(c.diff_mean)  # the interval covers zero
    worse = compare(
        "test_ece",
        baseline,
        [b + 0.05 + 0.001 * i for i, b in enumerate(baseline)],
        higher_is_better=False,
    )
    assert worse.verdict == "worse"


def test_a_difference_without_variance_is_exact() -> None:
    c = compare("state_mb", [2.0, 2.0, 2.0], [3.0, 3.0, 3.0], higher_is_better=False)
    assert c.p_value is None and c.verdict == "worse"
    same = compare("state_mb", [2.0, 2.0], [2.0, 2.0], higher_is_better=False)
    assert same.verdict == "no significant difference"
    assert compare("x", [1.0], [2.0], higher_is_better=True).verdict == "insufficient data"


def test_config_derives_the_baseline_of_each_component() -> None:
    config = ExperimentConfig(optimizer="lookahead", loss="adaptive_wing")
    assert config.baseline.optimizer == "adamw" and config.baseline.loss == "mse"
    assert config.name == "lookahead+adaptive_wing"
    arch = ExperimentConfig(model="moe")
    assert arch.baseline.model == "plain_mlp" and arch.name == "moe"


def test_config_learning_rates_come_from_the_registry_unless_given() -> None:
    config = ExperimentConfig(optimizer="lamb")
    assert config.learning_rate_for(config.candidate) == registry.get("lamb").lr
    assert config.learning_rate_for(config.baseline) == registry.get("adamw").lr
    wrapped = ExperimentConfig(optimizer="lookahead")
    assert wrapped.learning_rate_for(wrapped.candidate) == registry.get("adamw").lr
    fixed = ExperimentConfig(optimizer="lamb", learning_rate=0.003)
    assert fixed.learning_rate_for(fixed.candidate) == 0.003


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"optimizer": "adamz"}, "unknown optimizer 'adamz'"),
        ({"loss": "lookahead"}, "unknown loss 'lookahead'"),
        ({"optimizer": "lamb", "seeds": 1}, "greater than or equal to 2"),
        ({}, "nothing to compare"),
        ({"model": "plain_mlp"}, "baseline, not a candidate"),
        ({"optimizer": "lamb", "base_optimizer": "lookahead"}, "plain optimizer"),
        ({"optimizer": "lamb", "batch_size": 100}, "batch_size"),
        ({"optimizer": "lamb", "learning_rate": 0.5}, r"must be in \[0.0001, 0.1\]"),
    ],
)
def test_config_rejects_bad_input(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExperimentConfig(**fields)


def test_arm_keys_differ_when_anything_that_shapes_the_trials_does() -> None:
    a = ExperimentConfig(optimizer="lamb")
    assert a.arm_key(a.baseline) == ExperimentConfig(loss="focal").arm_key(a.baseline)
    assert a.arm_key(a.baseline) != ExperimentConfig(optimizer="lamb", epochs=3).arm_key(a.baseline)
    assert a.arm_key(a.baseline) != a.arm_key(a.candidate)


def test_matched_plain_mlp_is_within_one_hidden_unit_of_the_target() -> None:
    target = count_parameters(registry.get("moe").build(10, 1, registry.BuildContext(width=8)))
    plain = count_parameters(matched_plain_mlp(10, 1, target))
    assert abs(plain - target) / target < 0.01


def test_evaluation_loss_is_cross_entropy_whatever_the_training_loss() -> None:
    logits, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    wrapped = nll_when_evaluating(lambda a, b: torch.tensor(42.0))
    assert wrapped(logits, y).item() == 42.0
    with torch.no_grad():
        assert wrapped(logits, y).item() == pytest.approx(F.cross_entropy(logits, y).item())


def test_tensor_bytes_walks_nested_state() -> None:
    state = {"a": torch.zeros(4), "b": [torch.zeros(2, dtype=torch.float64), {"c": 3}]}
    assert tensor_bytes(state) == 4 * 4 + 2 * 8


def test_two_seed_run_through_the_real_trainer(tmp_path: Path) -> None:
    config = ExperimentConfig(
        optimizer="lookahead", dataset="synthetic", epochs=1, seeds=2, width=4, device="cpu"
    )
    lines: list[str] = []
    result = ExperimentRunner(tmp_path, log=lines.append).run(config)
    assert len(lines) == 4  # 2 seeds × 2 arms
    assert [r.seed for r in result.candidate.records] == [0, 1]
    assert all(r.status == "complete" and r.test_acc is not None for r in result.candidate.records)
    assert result.candidate.state_mb > result.baseline.state_mb  # LookAhead keeps slow weights
    assert {c.metric for c in result.comparisons} >= {"test_acc", "test_ece", "seconds", "state_mb"}
    directory = Path(result.directory)
    assert (directory / "experiment.json").is_file()
    assert (directory / "curves.png").is_file() and (directory / "paired.png").is_file()
    assert "lookahead" in suite_markdown([result])
    assert comparison_table(result).row_count == len(result.comparisons)
    # A second run in the same folder reuses every trial (records are cached by arm and seed).
    again = ExperimentRunner(tmp_path, log=lines.append).run(config)
    assert len(lines) == 4 and again.candidate.records == result.candidate.records


def test_architecture_runs_against_a_plain_network_of_equal_size(tmp_path: Path) -> None:
    config = ExperimentConfig(
        model="hypernetwork", dataset="synthetic", epochs=1, seeds=2, width=4, device="cpu"
    )
    result = ExperimentRunner(tmp_path).run(config)
    assert result.baseline.spec.match_parameters == result.candidate.parameters
    assert (
        abs(result.baseline.parameters - result.candidate.parameters) / result.candidate.parameters
        < 0.05
    )
