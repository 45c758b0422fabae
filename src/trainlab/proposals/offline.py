"""Offline policies of the proposal team: each role's sections assembled from the component
library's own metadata (idea, reference, costs, baseline, the seed's claim) and plain
arithmetic on it. Claims are labelled as the seed's and unmeasured, every number shows how it
was computed, and the validation experiment — not the text — decides."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from trainlab.components.registry import Component
from trainlab.proposals import library, off_library
from trainlab.proposals.request import Draft
from trainlab.proposals.schema import ValidationPlan, render_sections

PARAMS = 100e9  # "100B parameters"
FP32 = 4  # bytes per state value
DEVICES = 64  # for the sharded per-device figure
SIGNATURE = {
    "optimizer": "(params, hparams, ctx)",
    "loss": "(ctx)",
    "architecture": "(num_classes, in_channels, ctx)",
}
# The metric a claim is about (first match on the claim and idea), else test accuracy.
CLAIM_METRICS = (
    (r"calibrat|\bECE\b", "test_ece"),
    (r"O\(k\)|fewer steps|efficiency gains", "seconds"),
    (r"convergence", "val_nll"),
)
MEANING = {
    "test_ece": "a lower test ECE (better calibration)",
    "seconds": "fewer seconds per trial",
    "val_nll": "a lower validation NLL of the final weights after the same short budget (faster "
    "convergence shows as a better fit at a fixed budget)",
    "test_acc": "a higher test accuracy",
}
# (kind, pattern on the idea, what it means for communication at scale); first match wins.
COMMUNICATION = (
    ("optimizer", r"trust ratio|‖|norm|per-unit|unit-wise",
     "It needs norms or means of whole tensors or units: when FSDP or tensor parallelism "
     "shards a tensor, each one is an extra all-reduce of partial sums every step — few bytes, "
     "but a synchronization point."),
    ("optimizer", r"average|slow weights",
     "It keeps a second copy of the weights, to be sharded and checkpointed like the weights; "
     "the update itself is local."),
    ("optimizer", r".",
     "Its state is element-wise and shards with the parameters, so data-parallel traffic stays "
     "one gradient all-reduce (or reduce-scatter) of P values per step, as for the baseline."),
    ("loss", r"batch|InfoNCE",
     "It couples the examples of a batch: under data parallelism every worker must all-gather "
     "the others' embeddings (traffic grows with the global batch), or the loss sees only the "
     "local batch, which changes what it optimizes."),
    ("loss", r"running|threshold",
     "It keeps a running statistic of the loss: data-parallel workers must all-reduce it (one "
     "scalar per step) or each will skip different examples."),
    ("loss", r"noise",
     "Sampling k noise classes avoids the full V-way softmax; with the output layer sharded "
     "across devices only the sampled logits need gathering."),
    ("loss", r".",
     "A loss adds no parameters: communication stays one gradient all-reduce per step."),
    ("architecture", r"expert|routing",
     "Expert parallelism: every MoE layer exchanges tokens all-to-all between devices, and "
     "throughput follows the most loaded expert, so load balancing decides the speed."),
    ("architecture", r"attention",
     "Attention grows as O(T²) in the tokens per example; at long contexts sequence "
     "parallelism all-gathers keys and values."),
    ("architecture", r"generated",
     "Weights are generated on every forward pass: the generator's compute is paid each step "
     "and the generated weights are activations, not sharded parameters."),
    ("architecture", r"grown|grow",
     "The network grows during training: pipeline stages and optimizer state must be "
     "re-planned whenever blocks are added."),
    ("architecture", r"halting|ponder",
     "Input-dependent step counts break the static shapes that pipelines and compilers rely "
     "on; a batch waits for its slowest example."),
    ("architecture", r".",
     "A new architecture changes every shape the parallelism plan relies on."),
)  # fmt: skip
BIAS = {
    "optimizer": "An optimizer changes no architectural prior, but it changes the implicit bias "
    "of training — which of the many fitting solutions is reached, flat or sharp — and so "
    "generalization: {idea}.",
    "loss": "A loss changes what the network is rewarded for: {idea}. It can trade accuracy "
    "against calibration or robustness, which is why ECE and NLL are measured beside accuracy.",
    "architecture": "A new architecture changes the prior over functions: {idea}. It is measured "
    "against a plain MLP of equal parameter count, not against a CNN, so the result is the "
    "value of this prior per parameter.",
}


@off_library.when_unmatched(off_library.algorithms)
def algorithms(draft: Draft) -> dict[str, Any]:
    """The core concept: the library component that fits the topic, against its baseline."""
    c = draft.focus()
    base = library.baseline(c)
    claims = library.split_items(c.expected)
    return {
        "title": f"{c.name} instead of {base.name}: {draft.topic.split(';')[0].strip()}",
        "components": [c.name],
        "summary": f"Replace the {c.kind} {base.name} ({base.idea}) by {c.name}: {c.idea}. "
        "Nothing else changes, so a paired comparison isolates its effect.",
        "benefits": [f"Hypothesis (the seed's claim, not yet measured here): {x}" for x in claims]
        or [f"Hypothesis: {c.idea} helps with {draft.topic!r} (no quantitative claim recorded)"],
        "related_work": [
            *library.split_items(c.reference),
            *(f"Baseline {base.name}: {ref}" for ref in library.split_items(base.reference)),
        ],
        "novelty": f"Not new as a method: {c.name} is published work ({c.reference}). What this "
        f"proposal adds is a measurement — a paired-seed test of its claim against {base.name} "
        "under a fixed budget, written into the proposal.",
        "reasoning": _reasoning(draft, c, base, claims),
        "assumptions": [
            f"The library's {c.name} implements the idea of {library.first_reference(c)} "
            "faithfully enough for a measurement of it to speak for the method.",
            "An effect seen on a small dataset in a few epochs is a hint for the topic's "
            "setting, not proof at scale.",
            "Each arm's learning rate (the registry's, chosen by a small sweep) is close enough "
            "to its optimum that tuning does not decide the comparison.",
        ],
    }


def _reasoning(draft: Draft, c: Component, base: Component, claims: list[str]) -> str:
    matches = library.match(draft.topic, draft.exclude)
    words = next((m.words for m in matches if m.component is c), ())
    others = [m.component.name for m in matches if m.component is not c][:3]
    why = f"shares the words {', '.join(words)}" if words else "is the component it names"
    also = f" (also considered: {', '.join(others)})" if others else ""
    return (
        f"Observation: the topic asks for {draft.topic!r}. Selection: its words were matched "
        f"against every library component's idea and claim; {c.name} {why}{also}. Hypothesis: "
        f"{claims[0] if claims else c.idea}. Theory: {c.idea} "
        f"({library.first_reference(c)}). Test: the registry measures {c.name} against "
        f"{base.name}, so the validation experiment changes only this component and its paired "
        "t-test decides; 'no significant difference' at a small budget leaves the question open."
    )


@off_library.when_unmatched(off_library.systems)
def systems(draft: Draft) -> dict[str, Any]:
    """Scalability from the recorded costs: memory at 100B parameters, communication, tokens."""
    c = draft.focus()
    base = library.baseline(c)
    return {
        "scalability": " ".join(
            [_memory(c, base), f"Communication: {communication(c)}", _tokens(c, base)]
        ),
        "constraints": [
            _memory_constraint(c, base),
            f"Step time: '{c.time}' relative to the baseline (library record); the validation "
            "measures seconds per trial.",
            "Reproducibility: both arms share each seed's data split and initial RNG state; "
            "finished trials are cached per arm and seed, so a rerun resumes.",
            "Tooling: runs through the existing trainer (CPU, or one GPU with AMP); no custom "
            "kernels and no new training loop.",
        ],
    }


def _memory(c: Component, base: Component) -> str:
    k, kb = library.state_multiplier(c), library.state_multiplier(base)
    if k is None or kb is None:
        return (
            f"Memory: the library records '{c.memory}' for {c.name} and '{base.memory}' for "
            f"{base.name}; that is no per-parameter multiple, so nothing extrapolates to 100B "
            "parameters from it — the validation measures state memory at small scale."
        )
    per = PARAMS * FP32
    recorded = c.memory if c.memory == f"{k:g}P" else f"{c.memory} (= {k:g}P)"
    return (
        f"Memory: the library records optimizer state {recorded} for {c.name} "
        f"against {base.memory} for {base.name}. At 100B parameters in fp32 that is "
        f"{k * per / 1e12:.1f} TB against {kb * per / 1e12:.1f} TB (k × 4 bytes × 10¹¹), besides "
        f"weights and gradients; sharded over {DEVICES} devices (ZeRO-1/FSDP) "
        f"{k * per / DEVICES / 1e9:.2f} GB against {kb * per / DEVICES / 1e9:.2f} GB per device."
    )


def _memory_constraint(c: Component, base: Component) -> str:
    k, kb = library.state_multiplier(c), library.state_multiplier(base)
    if k is None or kb is None:
        return f"GPU memory: '{c.memory}' for {c.name} (library record)."
    return (
        f"GPU memory: {k * FP32:g} bytes of fp32 optimizer state per parameter against "
        f"{kb * FP32:g} for {base.name}."
    )


def communication(c: Component) -> str:
    return next(
        text
        for kind, pattern, text in COMMUNICATION
        if kind == c.kind and re.search(pattern, c.idea)
    )


def _tokens(c: Component, base: Component) -> str:
    return (
        f"Trillion tokens: the cost of a run is steps × step time; the library records step "
        f"time '{c.time}' for {c.name} against '{base.time}' for {base.name}, and any per-step "
        "overhead multiplies over the whole run — the seconds the validation measures are the "
        "number to extrapolate."
    )


@off_library.when_unmatched(off_library.engineering)
def engineering(draft: Draft) -> dict[str, Any]:
    """The implementation: the library's own component, run by the experiment framework."""
    c = draft.focus()
    config = draft.budget.config_for(c)
    field = library.FIELD[c.kind]
    settings = f'seeds={config.seeds}, epochs={config.epochs}, dataset="{config.dataset}"'
    flags = (
        f"--{field} {c.name} --seeds {config.seeds} --epochs {config.epochs} "
        f"--dataset {config.dataset} --width {config.width}"
    )
    return {
        "implementation": f"The library implements it: `{c.name}` ({c.kind}) in "
        f"`trainlab.components` — {c.idea}. The registry builds it with "
        f'`registry.get("{c.name}", "{c.kind}").build{SIGNATURE[c.kind]}`, and the experiment '
        "framework trains it through the same trainer as every lab trial (no new training "
        "loop):\n\n```python\nfrom pathlib import Path\n\n"
        "from trainlab.experiments import ExperimentConfig, ExperimentRunner\n\n"
        f'config = ExperimentConfig({field}="{c.name}", {settings}, width={config.width})\n'
        f'result = ExperimentRunner(Path("runs/{c.name}")).run(config)\n'
        "print(result.verdict)\n```\n\n"
        f"or `python main.py experiment {flags}`."
    }


def claim_metric(c: Component) -> str:
    text = f"{c.expected} {c.idea}"
    return next((m for pattern, m in CLAIM_METRICS if re.search(pattern, text)), "test_acc")


@off_library.when_unmatched(off_library.pipeline)
def pipeline(draft: Draft) -> dict[str, Any]:
    """The minimal validation experiment (an ExperimentConfig) and the safety considerations."""
    c = draft.focus()
    config = draft.budget.config_for(c)
    metric = claim_metric(c)
    plan = ValidationPlan(
        plan=f"One paired-seed comparison with the experiment framework: "
        f"{config.candidate.label} against {config.baseline.label}, {draft.budget.describe()}. "
        "Both arms share each seed (data split, initial RNG state), train the full budget "
        "without early stopping and are scored on their final weights; test accuracy, F1, ECE, "
        "validation NLL, seconds and state memory are compared by a paired t-test at "
        f"α = {config.alpha}.",
        metric=metric,
        success_criterion=f"Supported if the paired t-test finds {MEANING[metric]} for "
        f"{c.name} ('better' at α = {config.alpha}); 'worse' contradicts the claim; 'no "
        f"significant difference' with {config.seeds} seeds leaves it open (a small budget has "
        "little power).",
        experiment=config,
    )
    return {"validation": plan.model_dump(mode="json"), "safety": _safety(c)}


def _safety(c: Component) -> str:
    divergence = (
        " A new optimizer can diverge at rates its baseline tolerates, so each arm runs at its "
        "own registry rate."
        if c.kind == "optimizer"
        else ""
    )
    return (
        "Training stability: a run that diverges is recorded as 'diverged', not dropped, and "
        f"counts against its arm.{divergence} Evaluation: the deciding numbers come from the "
        "final weights on the held-out test split, on which nothing was selected; calibration "
        "(ECE) is reported because an over-confident model is a deployment risk. Scope: a "
        f"different {c.kind} changes how a model is trained, not what it is for, and adds no "
        "capability beyond the model it trains. Process: offline mode sends nothing over the "
        "network, and code written by a language model is never executed — only registry "
        "names and validated experiment settings are run."
    )


@off_library.when_unmatched(off_library.architecture)
def architecture(draft: Draft) -> dict[str, Any]:
    """Trade-offs and risks, inductive-bias implications first."""
    c = draft.focus()
    base = library.baseline(c)
    risks = [
        BIAS[c.kind].format(idea=c.idea),
        f"Cost: memory '{c.memory}' and step time '{c.time}' against '{base.memory}' and "
        f"'{base.time}' for {base.name} (library records).",
        "Tuning: the registry's learning rates come from a small sweep on digits (ResNet-9 "
        "width 16, 8 epochs); on other data or budgets they may favour one arm.",
    ]
    if c.expected:
        risks.insert(
            2,
            f"Transfer: the seed's claim ({c.expected}) was made for its own implementation "
            "and setting; a small network on a small dataset may show none of it, or an "
            "effect that vanishes at scale.",
        )
    return {"risks": risks}


def _mentions(text: str, pattern: str) -> bool:
    return bool(re.search(pattern, text, re.IGNORECASE))


def _tests_components(s: Mapping[str, Any]) -> bool:
    experiment = (s.get("validation") or {}).get("experiment") or {}
    tested = {experiment.get(field) for field in library.FIELD.values()}
    return bool(set(s.get("components", ())) & tested)


# (who must fix it, what is checked, the check on the merged sections)
CHECKS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], bool]], ...] = (
    ("systems", "scalability to 100B parameters",
     lambda s: _mentions(s.get("scalability", ""), r"100B|10¹¹|billion")),
    ("systems", "trillion-token training cost",
     lambda s: _mentions(s.get("scalability", ""), r"trillion|token")),
    ("systems", "GPU memory among the constraints",
     lambda s: any(_mentions(x, "memory") for x in s.get("constraints", ()))),
    ("algorithms", "quantitative benefits labelled as hypotheses",
     lambda s: all(_mentions(b, "hypothes|claim") or not re.search(r"\d", b)
                   for b in s.get("benefits", ()))),
    ("algorithms", "the baseline among the related work",
     lambda s: len(s.get("related_work", ())) >= 2),
    ("pipeline", "a runnable validation experiment",
     lambda s: bool((s.get("validation") or {}).get("experiment"))),
    ("pipeline", "an experiment that tests the proposed components", _tests_components),
)  # fmt: skip


def critique(draft: Draft) -> list[str]:
    """The checklist review: one 'role: missing …' point per failed check, or 'no issues'."""
    failed = [f"{role}: missing {what}" for role, what, ok in CHECKS if not ok(draft.sections)]
    return failed or [f"no issues: all {len(CHECKS)} checklist items hold"]


def answer(write: Callable[[Draft], dict[str, Any]], draft: Draft) -> str:
    """A role's offline answer to a question: its sections for the component it is about."""
    try:
        c = draft.focus()
        sections = write(draft)
    except library.NoMatchingComponent as exc:
        return f"Offline, answers come from the component library only, and {exc}."
    return (
        f"Offline answer from the component library's records about {c.name} (no language "
        f"model):\n\n{render_sections(sections)}"
    )
