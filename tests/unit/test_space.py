"""The search space: HParams enforces it exactly, coerce() clamps with a warning or rejects."""

from __future__ import annotations

import argparse
import math
import random

import pytest
from pydantic import ValidationError

from trainlab import space
from trainlab.agents.schemas import HParamsOut
from trainlab.space import HParams, SpaceError, coerce

VALID = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "train_batch_size": 128,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
}


def test_bounds_are_inclusive() -> None:
    low = HParams(**VALID | {"learning_rate": 1e-4, "weight_decay": 1e-5, "label_smoothing": 0.0})
    high = HParams(**VALID | {"learning_rate": 0.1, "weight_decay": 0.1, "label_smoothing": 0.2})
    assert low.learning_rate == 1e-4 and high.label_smoothing == 0.2


@pytest.mark.parametrize(
    "change",
    [
        {"learning_rate": 0.0},
        {"learning_rate": -0.01},
        {"learning_rate": 0.11},
        {"learning_rate": math.nan},
        {"weight_decay": math.inf},
        {"label_smoothing": 0.21},
        {"train_batch_size": 100},
        {"train_batch_size": 1024},
        {"optimizer": "rmsprop"},
        {"momentum": 0.9},  # unknown fields are not silently dropped
    ],
)
def test_hparams_rejects_anything_outside_the_space(change: dict) -> None:
    with pytest.raises(ValidationError):
        HParams(**VALID | change)


def test_hparams_is_frozen_and_hashable() -> None:
    hp = HParams(**VALID)
    with pytest.raises(ValidationError):
        hp.learning_rate = 0.05
    assert hash(hp) == hash(HParams(**VALID))


def test_coerce_keeps_a_valid_proposal_without_warnings() -> None:
    hp, warnings = coerce(VALID)
    assert hp == HParams(**VALID) and warnings == []


def test_coerce_clamps_numbers_and_warns_for_each() -> None:
    hp, warnings = coerce(VALID | {"learning_rate": 1.0, "label_smoothing": -0.5})
    assert hp.learning_rate == 0.1 and hp.label_smoothing == 0.0
    assert len(warnings) == 2
    assert any("learning_rate=1 clamped to 0.1" in w for w in warnings)


@pytest.mark.parametrize(
    ("raw", "expected"), [(100, 128), (48, 64), (33, 32), (1000, 512), (8, 32), ("256", 256)]
)
def test_coerce_snaps_batch_size_to_the_nearest_power_of_two(raw: object, expected: int) -> None:
    hp, warnings = coerce(VALID | {"train_batch_size": raw})
    assert hp.train_batch_size == expected
    assert bool(warnings) == (float(raw) != expected)


def test_coerce_normalises_the_optimizer_name_and_reads_numeric_strings() -> None:
    hp, _ = coerce(VALID | {"optimizer": "  SGD ", "learning_rate": "0.01"})
    assert hp.optimizer == "sgd" and hp.learning_rate == 0.01


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optimizer": "lion"}, "optimizer must be one of"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"learning_rate": None}, "learning_rate must be a number"),
        ({"weight_decay": True}, "weight_decay must be a number"),
        ({"label_smoothing": "nan"}, "label_smoothing must be finite"),
        ({"train_batch_size": 0}, "train_batch_size must be positive"),
        ({"train_batch_size": -64}, "train_batch_size must be positive"),
    ],
)
def test_coerce_rejects_unusable_values_instead_of_defaulting(change: dict, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        coerce(VALID | change)


def test_coerce_names_every_missing_field() -> None:
    with pytest.raises(SpaceError, match="missing learning_rate, weight_decay"):
        coerce({k: v for k, v in VALID.items() if k not in {"learning_rate", "weight_decay"}})


def test_key_identifies_configurations_to_three_significant_figures() -> None:
    a = HParams(**VALID | {"learning_rate": 0.012341})
    b = HParams(**VALID | {"learning_rate": 0.012349})
    c = HParams(**VALID | {"learning_rate": 0.0124})
    assert a.key() == b.key() != c.key()


def test_every_view_of_the_space_covers_every_field() -> None:
    dists = space.optuna_distributions()
    assert set(dists) == set(space.FIELDS)
    assert dists["learning_rate"].log and not dists["label_smoothing"].log
    text = space.describe()
    assert all(name in text for name in space.FIELDS)


# --- every consumer's view is derived from the one table (they cannot drift) -----------------


def test_fields_and_hparams_follow_the_table() -> None:
    names = tuple(d.name for d in space.SPACE)
    assert space.FIELDS == names == tuple(HParams.model_fields)
    assert {d.name: d.flag for d in space.SPACE} == space.FLAGS
    assert space.defaults() == HParams(**{d.name: d.default for d in space.SPACE})


def test_the_llm_answer_schema_has_one_field_per_dimension_with_its_domain() -> None:
    fields = HParamsOut.model_fields
    assert tuple(fields) == space.FIELDS
    for dim in space.SPACE:
        assert fields[dim.name].annotation is dim.type
        assert dim.domain() in fields[dim.name].description


def test_optuna_distributions_match_the_table() -> None:
    dists = space.optuna_distributions()
    for dim in space.SPACE:
        dist = dists[dim.name]
        if dim.kind == "float":
            assert (dist.low, dist.high, dist.log) == (*dim.bounds, dim.log)
        else:
            assert tuple(dist.choices) == dim.choices


def test_describe_has_one_line_per_dimension_with_its_domain() -> None:
    lines = space.describe().splitlines()
    assert len(lines) == len(space.SPACE)
    for line, dim in zip(lines, space.SPACE, strict=True):
        assert line.startswith(f"- {dim.name}: {dim.domain()}")


def test_train_flags_come_from_the_table_and_build_the_defaults() -> None:
    parser = argparse.ArgumentParser()
    space.add_flags(parser)
    flags = {a.option_strings[0] for a in parser._actions if a.option_strings}
    assert set(space.FLAGS.values()) <= flags
    assert space.hparams_from_args(parser.parse_args([])) == space.defaults()
    args = parser.parse_args(["--lr", "0.01", "--batch-size", "64", "--optimizer", "adam"])
    hp = space.hparams_from_args(args)
    assert (hp.learning_rate, hp.train_batch_size, hp.optimizer) == (0.01, 64, "adam")


def test_perturb_moves_one_perturbable_coordinate_and_stays_in_the_space() -> None:
    start = space.defaults()
    for seed in range(20):
        step = space.perturb(start, random.Random(seed))
        changed = [n for n in space.FIELDS if getattr(step, n) != getattr(start, n)]
        assert len(changed) <= 1 and "optimizer" not in changed


def test_brief_shows_every_dimension_with_its_label() -> None:
    assert space.defaults().brief() == "sgd lr=0.05 bs=128 wd=0.0005 ls=0.1"
    assert len(space.defaults().brief().split()) == len(space.SPACE)


def test_only_an_adopted_optimizer_widens_the_choices_and_a_point_keeps_its_own() -> None:
    grown = ("adam", "sgd", "lookahead")
    with pytest.raises(SpaceError, match="optimizer must be one of"):
        coerce(VALID | {"optimizer": "lookahead"})  # not adopted: refused as before
    point, _ = coerce(VALID | {"optimizer": "LookAhead"}, grown)
    assert point.optimizer == "lookahead" and HParams(**point.model_dump()) == point
    assert space.perturb(point, random.Random(0)).optimizer == "lookahead"
    assert space.apply_changes(point, {"learning_rate": "*0.5"})[0].optimizer == "lookahead"
    assert space.optuna_distributions(grown)["optimizer"].choices == grown
    assert "adopted by this lab after a significant validation: lookahead" in space.describe(grown)
    assert space.describe() == space.describe(space.OPTIMIZERS)
    with pytest.raises(ValidationError):  # a baseline, not a candidate: never adoptable
        HParams(**VALID | {"optimizer": "adamw"})
    args = argparse.Namespace(**VALID | {"optimizer": "lookahead"})
    with pytest.raises(SpaceError, match="--optimizer lookahead: use one of adam, sgd"):
        space.hparams_from_args(args)  # `train` trains the space's optimizers only
