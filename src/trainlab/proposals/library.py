"""The component library as the proposal team reads it: which components a topic is about,
and what the registry records about their costs. Nothing here is made up: every fact comes
from a component's registry entry (idea, reference, memory, time, baseline, the seed's claim).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trainlab.components import registry
from trainlab.components.registry import Component

# Experiment field that names a component of each kind (ExperimentConfig's spelling).
FIELD = {"optimizer": "optimizer", "loss": "loss", "architecture": "model"}
STEM = 7  # words match on their first 7 letters: "convergence" ~ "converge"
STOPWORDS = """about after also and any are based been being better between but can could deep does
    for from good has have how into its learning make method methods model models more network
    networks neural new novel our over should small than that the their them then these this
    those through train training use used using very via way what when which while with would
    work"""
STOP = frozenset(STOPWORDS.split())


class NoMatchingComponent(ValueError):
    """No component of the library fits the topic (offline agents can only use the library)."""


@dataclass(frozen=True)
class Match:
    """A candidate component and the topic words its idea, claim, name or kind share."""

    component: Component
    words: tuple[str, ...]
    named: bool  # the topic names the component itself

    @property
    def score(self) -> tuple[bool, int]:
        return self.named, len(self.words)


def stems(text: str) -> set[str]:
    return {word[:STEM] for word in _words(text)}


def _words(text: str) -> list[str]:
    words = re.findall(r"[a-z][a-z0-9]+", text.lower())
    return [w for w in words if len(w) >= 3 and w not in STOP]


def _description(c: Component) -> str:
    return f"{c.name.replace('_', ' ')} {c.kind} {c.idea} {c.expected}"


def candidates(exclude: Iterable[str] = ()) -> list[Component]:
    """Components that have a baseline to be measured against (baselines themselves do not)."""
    skip = set(exclude)
    return [c for c in registry.REGISTRY.values() if c.baseline and c.name not in skip]


def match(topic: str, exclude: Iterable[str] = ()) -> list[Match]:
    """Candidates sharing words with the topic, best first (registry order breaks ties)."""
    lowered = topic.lower()
    found = []
    for component in candidates(exclude):
        described = stems(_description(component))
        words = tuple(dict.fromkeys(w for w in _words(topic) if w[:STEM] in described))
        named = bool(re.search(rf"\b{component.name}\b", lowered))
        if words or named:
            found.append(Match(component, words, named))
    return sorted(found, key=lambda m: m.score, reverse=True)


def focus(topic: str, named: Sequence[str] = (), exclude: Iterable[str] = ()) -> Component:
    """What a proposal is about: the first named candidate, else the topic's best match."""
    for name in named:
        component = registry.REGISTRY.get(name)
        if component is not None and component.baseline:
            return component
    matches = match(topic, exclude)
    if not matches:
        raise NoMatchingComponent(
            f"no component of the library matches {topic!r}; offline, the team can only "
            f"propose library components (see `python main.py components`): "
            + ", ".join(c.name for c in candidates(exclude))
        )
    return matches[0].component


def _trigrams(text: str) -> set[str]:
    return {word[i : i + 3] for word in _words(text) for i in range(len(word) - 2)}


def closest(topic: str, k: int = 3) -> list[Component]:
    """The k candidates nearest to a topic that matches none: shared letter trigrams of the
    words (a weak signal, said as such where it is shown), registry order breaking ties."""
    wanted = _trigrams(topic)
    ranked = sorted(
        candidates(), key=lambda c: len(wanted & _trigrams(_description(c))), reverse=True
    )
    return ranked[:k]


def baseline(component: Component) -> Component:
    return registry.get(component.baseline or component.name)


def state_multiplier(component: Component, base_optimizer: str = "adamw") -> float | None:
    """An optimizer's state in units of P (parameters), from its recorded memory cost.

    "2P" → 2, "P" → 1, "base" → its base optimizer's, "base + P" → base's + 1; anything else
    (losses, architectures, free text) → None.
    """
    if component.kind != "optimizer":
        return None
    total = 0.0
    for term in component.memory.replace(" ", "").split("+"):
        if term == "base":
            total += state_multiplier(registry.get(base_optimizer)) or 0.0
        elif found := re.fullmatch(r"(\d*\.?\d*)P", term):
            total += float(found.group(1) or 1)
        else:
            return None
    return total


def split_items(text: str) -> list[str]:
    """A registry text with ';'-separated items as a list ("-" and "" give nothing)."""
    return [item.strip() for item in text.split(";") if item.strip() not in ("", "-")]


def first_reference(component: Component) -> str:
    return (split_items(component.reference) or [f"the {component.name} literature"])[0]
