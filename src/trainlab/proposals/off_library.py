"""Offline sections for a topic that no component of the library implements: the proposal is
written and saved, marked "not validated: no component of the library implements it", with
the plan that would make it testable (register it as a component) and the closest library
components. Every offline role policy falls back to these (`when_unmatched`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from trainlab.proposals import library
from trainlab.proposals.request import Draft
from trainlab.proposals.schema import ValidationPlan, ValidationResult

NOT_IMPLEMENTED = "not validated: no component of the library implements it"
Policy = Callable[[Draft], dict[str, Any]]


def _closest(draft: Draft) -> str:
    near = library.closest(draft.topic)
    return ", ".join(f"{c.name} ({c.kind}: {c.idea})" for c in near)


def algorithms(draft: Draft) -> dict[str, Any]:
    near = library.closest(draft.topic)
    return {
        "title": f"{draft.topic.split(';')[0].strip()}: {NOT_IMPLEMENTED}",
        "components": [],
        "summary": f"No component of the library implements {draft.topic!r}, and offline the "
        "team writes only what the library records. This proposal is the plan that would make "
        "the idea testable; nothing in it is measured. Closest library components (by shared "
        f"letters, a weak signal): {_closest(draft)}.",
        "benefits": ["Hypothesis (unstated offline): whatever the topic's authors claim for it"],
        "related_work": [f"{c.name}: {c.reference}" for c in near],
        "novelty": "Unknown offline: the library has no record to compare the idea with.",
        "reasoning": f"Observation: no word of {draft.topic!r} matches the name, kind, idea or "
        "claim of any library component. Hypothesis and theory need the idea's author (or the "
        "LLM mode). Test: implement it as a component and compare it with its baseline.",
        "assumptions": [
            "The idea can be expressed as an optimizer, a loss or an image classifier, the "
            "three kinds the experiment framework compares."
        ],
    }


def systems(draft: Draft) -> dict[str, Any]:
    return {
        "scalability": "Not analysable offline: the library records no memory or time cost for "
        "this idea, so nothing can be extrapolated to 100B parameters or a trillion tokens. "
        "Register it with its costs (register_component(..., memory='2P', time='1x')) and the "
        "systems agent computes them.",
        "constraints": ["Its GPU memory and step time are unknown until it is implemented."],
    }


def engineering(draft: Draft) -> dict[str, Any]:
    return {
        "implementation": "Implement it as a component and register it, then the experiment "
        "framework runs it like a library one:\n\n```python\n"
        "from trainlab.components.custom import register_component\n\n"
        'register_component("my_idea", "optimizer", MyOptimizer, idea="...")\n```\n\n'
        'and `ExperimentConfig(optimizer="my_idea")` or `TRAINLAB_COMPONENTS=my_module '
        "python main.py experiment --optimizer my_idea`."
    }


def pipeline(draft: Draft) -> dict[str, Any]:
    plan = ValidationPlan(
        plan="Once registered: the component against its baseline over paired seeds "
        f"({draft.budget.describe()}), scored on the final weights.",
        metric="test_acc",
        success_criterion="Supported if the paired t-test finds a higher test accuracy at "
        "α = 0.05; until then, nothing is claimed.",
        experiment=None,
    )
    return {
        "validation": plan.model_dump(mode="json"),
        "results": ValidationResult(status="not run", reason=NOT_IMPLEMENTED).model_dump(),
        "safety": "Nothing runs: no code is executed and no model is trained for this proposal.",
    }


def architecture(draft: Draft) -> dict[str, Any]:
    return {
        "risks": [
            f"Unknown inductive bias and costs: no library record; closest: {_closest(draft)}."
        ]
    }


def when_unmatched(fallback: Policy) -> Callable[[Policy], Policy]:
    """An offline policy that writes `fallback`'s sections when the topic matches nothing."""

    def wrap(policy: Policy) -> Policy:
        @functools.wraps(policy)
        def write(draft: Draft) -> dict[str, Any]:
            try:
                draft.focus()
            except library.NoMatchingComponent:
                return fallback(draft)
            return policy(draft)

        return write

    return wrap
