"""Curated research prompts by area (`research_prompts.toml` in this package): a topic for a
proposal or a question for a brainstorm, chosen by name in `research --prompt NAME` and in
the interactive session."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PROMPTS_FILE = Path(__file__).with_name("research_prompts.toml")
AREAS: tuple[str, ...] = (
    "optimizers",
    "losses",
    "architectures",
    "training pipeline",
    "scalability",
    "experimental design",
    "literature review",
    "theory",
)


@dataclass(frozen=True)
class ResearchPrompt:
    name: str
    area: str
    text: str


class UnknownPromptError(ValueError):
    """A prompt name that is not in the library."""


@functools.cache
def prompts() -> dict[str, ResearchPrompt]:
    """Every curated prompt by name, in file order."""
    data = tomllib.loads(PROMPTS_FILE.read_text(encoding="utf-8"))
    return {p["name"]: ResearchPrompt(p["name"], p["area"], p["text"]) for p in data["prompt"]}


def get(name: str) -> ResearchPrompt:
    """The prompt called `name`, or UnknownPromptError naming the close ones."""
    found = prompts().get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(prompts()), n=3, cutoff=0.3)
        hint = f"close names: {', '.join(close)}" if close else "see `research --list-prompts`"
        raise UnknownPromptError(f"--prompt: unknown prompt {name!r} ({hint})")
    return found


def listing() -> str:
    """The prompts grouped by area, one line each (for --list-prompts and the session)."""
    lines = []
    for area in AREAS:
        lines.append(f"{area}:")
        lines += [f"  {p.name:<24} {p.text}" for p in prompts().values() if p.area == area]
    return "\n".join(lines)
