"""Domain loaders: the offline embedded corpora and the real (HF) path on real-format data."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
import torch

from trainlab.k1 import data
from trainlab.k1.data import DOMAINS, HFSource, decode, encode, is_val, load_domain, load_hf


def test_byte_tokenizer_round_trips_any_text() -> None:
    text = "def f(x):\n    return x ** 2  # σ² ≤ ∞"
    tokens = encode(text)
    assert tokens.max() < 256 and decode(tokens) == text


@pytest.mark.parametrize("name", DOMAINS)
def test_embedded_domains_are_deterministic_and_split(name: str) -> None:
    a = load_domain(name, "embedded", 30_000, 5_000)
    b = load_domain(name, "embedded", 30_000, 5_000)
    assert a == b
    assert 20_000 < len(a.train.encode()) <= 30_000
    assert 1_000 < len(a.val.encode()) <= 5_000
    assert a.val[:200] not in a.train


def test_embedded_domains_look_like_their_domain() -> None:
    code = load_domain("code", "embedded", 20_000, 2_000).train
    science = load_domain("science", "embedded", 20_000, 2_000).train
    assert "def " in code and "import " in code
    assert "Parameters" in science and "----------" in science


def test_unknown_domain_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown domain"):
        load_domain("math", "embedded", 1_000, 1_000)


def write_parquet(tmp_path: Path, field: str, splits: dict[str, list[str]]) -> dict[str, str]:
    files = {}
    for split, texts in splits.items():
        files[split] = str(tmp_path / f"{split}.parquet")
        datasets.Dataset.from_dict({field: texts, "id": list(range(len(texts)))}).to_parquet(
            files[split]
        )
    return files


def local_loader(files: dict[str, str]):
    """Same call shape as data.hf_load, reading local parquet through `datasets` streaming."""

    def load(spec: HFSource, split: str):
        return datasets.load_dataset("parquet", data_files=files, split=split, streaming=True)

    return load


def test_hf_loader_uses_the_datasets_own_validation_split(tmp_path: Path) -> None:
    files = write_parquet(
        tmp_path,
        "text",
        {
            "train": [" = Valkyria = \n", "", " The game began development in 2010 .\n"] * 50,
            "validation": [" = Homarus = \n", " A lobster species .\n"] * 20,
        },
    )
    domain = load_hf("prose", 2_000, 300, load=local_loader(files))
    assert domain.source == "hf:wikitext"
    assert "Valkyria" in domain.train and "Valkyria" not in domain.val
    assert "lobster" in domain.val and "lobster" not in domain.train
    assert len(domain.train.encode()) <= 2_000 and len(domain.val.encode()) <= 300


def test_hf_loader_hash_splits_a_corpus_without_validation(tmp_path: Path) -> None:
    rows = [f"def f{i}(x):\n    return x + {i}\n" for i in range(200)]
    files = write_parquet(tmp_path, "content", {"train": rows})
    domain = load_hf("code", 100_000, 100_000, load=local_loader(files))
    spec = data.HF_SOURCES["code"]
    val_rows = [r for i, r in enumerate(rows) if is_val(f"{spec.path}:{i}")]
    assert 5 < len(val_rows) < 40
    assert domain.val == data.DOC_SEPARATOR.join(val_rows)
    assert all(r not in domain.train for r in val_rows)


def test_hf_science_source_reads_abstracts(tmp_path: Path) -> None:
    files = write_parquet(
        tmp_path,
        "abstract",
        {"train": ["we prove a bound on the spectral gap ."] * 30, "validation": ["a lemma ."]},
    )
    domain = load_hf("science", 500, 100, load=local_loader(files))
    assert "spectral gap" in domain.train and domain.val == "a lemma ."


def test_eval_windows_are_fixed_and_random_windows_follow_the_generator() -> None:
    tokens = torch.arange(1000)
    w = data.eval_windows(tokens, 10, 5)
    assert w.shape == (5, 10) and torch.equal(w, data.eval_windows(tokens, 10, 5))
    a = data.random_windows(tokens, 3, 10, torch.Generator().manual_seed(0))
    b = data.random_windows(tokens, 3, 10, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(a[:, 1:] - a[:, :-1], torch.ones(3, 9).long())
    with pytest.raises(ValueError, match="validation split"):
        data.eval_windows(torch.arange(5), 10, 5)


def test_science_docstrings_are_stable_across_processes() -> None:
    import os
    import subprocess
    import sys

    code = "import hashlib; from trainlab.k1.data import science_docs; "
    code += "print(hashlib.md5(repr(science_docs()).encode()).hexdigest())"
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_stable_docstring_sorts_set_reprs_and_drops_random_output() -> None:
    doc = "Use of ``{'b', 'a'}`` is deprecated.\n>>> x.sample()\narray([1., 3.])  # may vary"
    assert data.stable_docstring(doc) == "Use of ``{'a', 'b'}`` is deprecated.\n>>> x.sample()"
