"""The three K-1 text domains, their deterministic train/val splits, and the shared tokenizer.

Tokenizer: UTF-8 bytes (vocabulary 256). It is shared by all domains, needs no fitting, so it
cannot peek at validation text, and it never maps a word to <unk> (code and formulas are full
of rare identifiers). Perplexities are therefore per byte, not per word.

Sources (`source="embedded"`, the default, needs no network):
  prose   - Python's bundled documentation topics (`pydoc_data.topics`)
  code    - the standard library's own `.py` sources
  science - docstrings of NumPy/SciPy public functions and classes
Sources (`source="hf"`, downloaded once by HF `datasets` into its cache):
  prose   - WikiText-2 raw (`wikitext`, `wikitext-2-raw-v1`, field `text`)
  code    - CodeParrot clean, validation part (`codeparrot/codeparrot-clean-valid`, `content`)
  science - arXiv abstracts (`ccdv/arxiv-summarization`, field `abstract`)

Split: the dataset's own validation split where it has one; otherwise a document goes to
validation when crc32(document id) % 10 == 0 (stable across runs, machines and orderings).
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
import sysconfig
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlab.k1.configs import DOMAINS

SOURCES: tuple[str, ...] = ("embedded", "hf")
VOCAB_SIZE = 256
DOC_SEPARATOR = "\n\n"
SCIENCE_MODULES: tuple[str, ...] = (
    "numpy", "numpy.linalg", "numpy.fft", "numpy.random", "scipy.stats", "scipy.special",
    "scipy.linalg", "scipy.optimize", "scipy.integrate", "scipy.signal", "scipy.interpolate",
    "scipy.spatial", "scipy.ndimage",
)  # fmt: skip

Doc = tuple[str, str]  # (stable id, text)


@dataclass(frozen=True)
class DomainText:
    name: str
    train: str
    val: str
    source: str


@dataclass(frozen=True)
class HFSource:
    """Where a domain lives on the Hugging Face Hub."""

    path: str
    config: str | None
    field: str
    train_split: str
    val_split: str | None  # None: split by document hash


HF_SOURCES: dict[str, HFSource] = {
    "prose": HFSource("wikitext", "wikitext-2-raw-v1", "text", "train", "validation"),
    "code": HFSource("codeparrot/codeparrot-clean-valid", None, "content", "train", None),
    "science": HFSource("ccdv/arxiv-summarization", None, "abstract", "train", "validation"),
}


# --- tokenizer ----------------------------------------------------------------------------


def encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def decode(tokens: Iterable[int]) -> str:
    return bytes(int(t) for t in tokens).decode("utf-8", errors="replace")


# --- splitting ----------------------------------------------------------------------------


def is_val(doc_id: str) -> bool:
    return zlib.crc32(doc_id.encode()) % 10 == 0


def join_capped(texts: Iterable[str], max_bytes: int) -> str:
    """Join documents until about max_bytes of UTF-8 (the last one is cut to fit)."""
    out: list[str] = []
    size = 0
    for text in texts:
        if size >= max_bytes:
            break
        chunk = text.encode("utf-8")[: max_bytes - size].decode("utf-8", errors="ignore")
        out.append(chunk)
        size += len(chunk.encode("utf-8")) + len(DOC_SEPARATOR)
    return DOC_SEPARATOR.join(out)


def split_docs(
    name: str, docs: Iterable[Doc], max_train: int, max_val: int, source: str
) -> DomainText:
    """Hash-split documents into a DomainText; stops reading once both splits are full."""
    parts: dict[bool, list[str]] = {False: [], True: []}
    caps = {False: max_train, True: max_val}
    size = {False: 0, True: 0}
    for doc_id, text in docs:
        held_out = is_val(doc_id)
        if size[held_out] < caps[held_out]:
            parts[held_out].append(text)
            size[held_out] += len(text.encode("utf-8"))
        if all(size[k] >= caps[k] for k in caps):
            break
    return DomainText(
        name, join_capped(parts[False], max_train), join_capped(parts[True], max_val), source
    )


# --- embedded (offline) sources -----------------------------------------------------------


def prose_docs() -> list[Doc]:
    from pydoc_data.topics import topics

    return [(f"topic:{key}", topics[key]) for key in sorted(topics)]


def code_docs() -> list[Doc]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.is_file())
    return [(f"stdlib:{p.name}", p.read_text(encoding="utf-8", errors="ignore")) for p in files]


SET_REPR = re.compile(r"\{'[^{}]*'\}")


def stable_docstring(doc: str) -> str:
    """Some SciPy docstrings are generated at import: sort set reprs (hash order) and drop
    example-output lines marked `# may vary` (random draws), so every process agrees."""
    doc = SET_REPR.sub(lambda m: "{" + ", ".join(sorted(m.group(0)[1:-1].split(", "))) + "}", doc)
    return "\n".join(line for line in doc.splitlines() if "# may vary" not in line)


def science_docs() -> list[Doc]:
    """Public NumPy/SciPy docstrings, each text once (re-exports share one docstring)."""
    # Import all first: importing scipy.special rewrites numpy.sinc's docstring.
    modules = {name: importlib.import_module(name) for name in SCIENCE_MODULES}
    docs: dict[str, str] = {}
    seen: set[str] = set()
    for module_name, module in modules.items():
        for attr in sorted(getattr(module, "__all__", dir(module))):
            obj = getattr(module, attr, None)
            doc = inspect.getdoc(obj) if callable(obj) and not attr.startswith("_") else None
            doc = stable_docstring(doc) if doc else None
            if doc and doc not in seen:
                seen.add(doc)
                docs[f"{module_name}.{attr}"] = doc
    return sorted(docs.items())


EMBEDDED: dict[str, Callable[[], list[Doc]]] = {
    "prose": prose_docs,
    "code": code_docs,
    "science": science_docs,
}


def load_embedded(name: str, max_train: int, max_val: int) -> DomainText:
    docs = EMBEDDED[name]()
    # Interleave from a fixed permutation so a byte cap samples the whole corpus, not "a*".
    order = np.random.default_rng(zlib.crc32(name.encode())).permutation(len(docs))
    return split_docs(name, (docs[i] for i in order), max_train, max_val, "embedded")


# --- Hugging Face sources -----------------------------------------------------------------

Loader = Callable[..., Iterable[dict[str, Any]]]


def hf_load(spec: HFSource, split: str) -> Iterable[dict[str, Any]]:
    """Stream one split from the Hub (cached by `datasets`); only rows we use are fetched."""
    import datasets

    return datasets.load_dataset(spec.path, spec.config, split=split, streaming=True)


def _texts(rows: Iterable[dict[str, Any]], field: str, max_rows: int) -> Iterable[str]:
    return (row[field] for row in itertools.islice(rows, max_rows) if row[field].strip())


def load_hf(
    name: str, max_train: int, max_val: int, load: Loader = hf_load, max_rows: int = 200_000
) -> DomainText:
    """A real corpus, split by its own validation split or else by document hash."""
    spec = HF_SOURCES[name]
    rows = load(spec, spec.train_split)
    if spec.val_split is None:
        docs = ((f"{spec.path}:{i}", t) for i, t in enumerate(_texts(rows, spec.field, max_rows)))
        return split_docs(name, docs, max_train, max_val, f"hf:{spec.path}")
    train = join_capped(_texts(rows, spec.field, max_rows), max_train)
    val = join_capped(_texts(load(spec, spec.val_split), spec.field, max_rows), max_val)
    return DomainText(name, train, val, f"hf:{spec.path}")


def load_domain(name: str, source: str, max_train: int, max_val: int) -> DomainText:
    if name not in DOMAINS:
        raise ValueError(f"unknown domain {name!r}; choose from {', '.join(DOMAINS)}")
    if source == "hf":
        return load_hf(name, max_train, max_val)
    return load_embedded(name, max_train, max_val)


# --- token arrays on disk and batches -----------------------------------------------------


def save_domain(domain: DomainText, data_dir: Path) -> dict[str, str]:
    """Write train/val token arrays (.npy); returns their paths."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in ("train", "val"):
        path = data_dir / f"{domain.name}_{split}.npy"
        np.save(path, encode(getattr(domain, split)))
        paths[split] = str(path)
    return paths


def load_tokens(path: str | Path) -> torch.Tensor:
    return torch.from_numpy(np.load(path).astype(np.int64))


def random_windows(
    tokens: torch.Tensor, batch_size: int, length: int, generator: torch.Generator
) -> torch.Tensor:
    """batch_size random windows of `length` tokens (seq_len + 1 for next-token targets)."""
    starts = torch.randint(0, len(tokens) - length, (batch_size,), generator=generator)
    return torch.stack([tokens[s : s + length] for s in starts.tolist()])


def eval_windows(tokens: torch.Tensor, length: int, max_windows: int) -> torch.Tensor:
    """Fixed, evenly spaced windows across the validation split (deterministic)."""
    count = min(max_windows, len(tokens) // length)
    if count < 1:
        raise ValueError(f"validation split has {len(tokens)} tokens, need at least {length}")
    starts = np.linspace(0, len(tokens) - length, count).astype(int)
    return torch.stack([tokens[s : s + length] for s in starts])
