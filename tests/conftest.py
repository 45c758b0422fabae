"""Shared fixtures: tiny in-memory data and a tiny CIFAR-10 folder in the real format."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

# One thread per process (subprocesses inherit it): on 2 shared cores, oversubscribed torch
# threads made one tiny trial 7× slower. Set before torch is imported anywhere.
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar as tv_cifar
from pg_server import postgres_url  # noqa: F401  (a session fixture: a real PostgreSQL server)

from trainlab.config import DataSettings
from trainlab.training.data import ImageSplits, load_splits

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_splits() -> ImageSplits:
    """The synthetic dataset (4 classes, 3×8×8, 512 train / 256 test), test doubling as val."""
    return load_splits(DataSettings(dataset="synthetic"), seed=0)


@dataclass(frozen=True)
class FakeCifar:
    data_dir: Path
    train_x: np.ndarray  # uint8 [N, 3072], CIFAR's row layout (R plane, G plane, B plane)
    train_y: list[int]
    test_x: np.ndarray
    test_y: list[int]


@pytest.fixture
def fake_cifar10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCifar:
    """A tiny `cifar-10-batches-py` folder (5 × 20 train, 20 test images) in the real pickle
    format. Only torchvision's md5 check is patched (our files cannot match the real md5s);
    everything else — torchvision's reader included — runs for real."""
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def write_batch(name: str, n: int) -> tuple[np.ndarray, list[int]]:
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        batch = {
            "batch_label": name,
            "labels": y,
            "data": x,
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)
        return x, y

    parts = [write_batch(f"data_batch_{i}", 20) for i in range(1, 6)]
    test_x, test_y = write_batch("test_batch", 20)
    meta = {"label_names": [f"class_{i}" for i in range(10)], "num_cases_per_batch": 20}
    with (folder / "batches.meta").open("wb") as handle:
        pickle.dump(meta, handle, protocol=2)

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    train_x = np.concatenate([x for x, _ in parts])
    train_y = [label for _, y in parts for label in y]
    return FakeCifar(tmp_path / "data", train_x, train_y, test_x, test_y)
