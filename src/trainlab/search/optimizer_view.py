"""The optimizer's state, compact and sanitized, for the consultants' prompts.

CMA-ES: its mean, step size σ and the main axes of its covariance, in the space's own units
(learning rate and weight decay in log10 units, label smoothing linear; the categorical
dimensions are not modelled by CMA-ES and are noted as such). TPE (and random): the top and
bottom trials and the sampler's own next suggestion. A run with several objectives or with
constraints also says which apply; with several objectives the trials shown are the Pareto
front (feasible, non-dominated) and the suggestion names its width. Only hyperparameters and
scores appear: no paths, names or free text from the trials.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from trainlab import space
from trainlab.search.study import SearchStudy, hparams_of

CMA_OPTIMIZER_ATTR = "cma:optimizer"
SHOWN_TRIALS = 3
SHOWN_AXES = 2
CATEGORICAL = tuple(n for n in space.FIELDS if n not in space.NUMERIC_BOUNDS)
CMA_DIMS = tuple(sorted(space.NUMERIC_BOUNDS))  # Optuna's order for CMA-ES' float dimensions


def optimizer_view(search: SearchStudy, round_: int) -> dict[str, Any]:
    """The state as a dict: CMA-ES' distribution, or TPE's top/bottom trials and next ask."""
    trials = [t for t in search.finished() if t.state == TrialState.COMPLETE]
    view: dict[str, Any] = {"sampler": search.sampler, "complete_trials": len(trials)}
    if search.sampler == "cmaes":
        view["cmaes"] = cma_state(search.finished())
        return view
    goal = search.goal
    if goal.multi or goal.active:
        view["goal"] = goal.describe()
    if goal.multi:
        view["top"] = [_row(t) for t in search.pareto()[: 2 * SHOWN_TRIALS]]
        view["bottom"] = []
        params = search.peek_params(round_)
        view["next_suggestion"] = hparams_of(params).model_dump()
        view["next_width"] = params["model_width"]
        view["objectives"] = list(goal.objectives)
        return view
    ranked = sorted(trials, key=lambda t: -(t.value or 0.0))
    view["top"] = [_row(t) for t in ranked[:SHOWN_TRIALS]]
    view["bottom"] = [_row(t) for t in ranked[SHOWN_TRIALS:][-SHOWN_TRIALS:]]
    view["next_suggestion"] = search.peek(round_).model_dump()
    return view


def render(view: dict[str, Any]) -> str:
    """The view as prompt text."""
    head = f"Optimizer: {view['sampler']} ({view['complete_trials']} complete trials)."
    if "goal" in view:
        head += f"\nGoal: {view['goal']}."
    if "cmaes" in view:
        return head + "\n" + _render_cma(view["cmaes"])
    best = "Pareto front (feasible trials no other beats on every objective):"
    names = view.get("objectives")
    rows = [_render_row(row, names) for row in view["top"]]
    lines = [head, best if names else "Top trials:", *rows]
    if view["bottom"]:
        lines += ["Bottom trials:", *map(_render_row, view["bottom"])]
    suggestion = space.HParams(**view["next_suggestion"]).brief()
    if "next_width" in view:
        suggestion += f" at width {view['next_width']}"
    return "\n".join([*lines, f"The sampler's own next suggestion: {suggestion}"])


def cma_state(trials: list[FrozenTrial]) -> dict[str, Any] | None:
    """Mean, σ and main covariance axes of the latest CMA-ES state, or None before its first
    generation is complete."""
    optimizer = _latest_cma(trials)
    if optimizer is None:
        return None
    scale = np.array([_unit_width(name) for name in CMA_DIMS])
    cov = (optimizer._sigma**2) * optimizer._C * np.outer(scale, scale)  # in the space's units
    eigenvalues, vectors = np.linalg.eigh(cov)
    order = np.argsort(eigenvalues)[::-1][:SHOWN_AXES]
    return {
        "mean": {n: _to_space(n, float(m)) for n, m in zip(CMA_DIMS, optimizer._mean, strict=True)},
        "sigma": float(optimizer._sigma),
        "generation": int(optimizer.generation),
        "axes": [
            {
                "std": math.sqrt(max(0.0, float(eigenvalues[i]))),
                "direction": dict(zip(CMA_DIMS, np.round(vectors[:, i], 3).tolist(), strict=True)),
            }
            for i in order
        ],
        "units": {n: "log10" if n in space.LOG_SCALE else "linear" for n in CMA_DIMS},
        "not_modelled": list(CATEGORICAL),
    }


def _latest_cma(trials: list[FrozenTrial]) -> Any | None:
    for trial in reversed(trials):
        parts = {k: v for k, v in trial.system_attrs.items() if k.startswith(CMA_OPTIMIZER_ATTR)}
        if parts:
            text = "".join(parts[f"{CMA_OPTIMIZER_ATTR}:{i}"] for i in range(len(parts)))
            return pickle.loads(bytes.fromhex(text))  # written by Optuna's own sampler
    return None


def _unit_width(name: str) -> float:
    """Width of the dimension in the space's units (CMA-ES works on [0, 1] per dimension)."""
    low, high = space.NUMERIC_BOUNDS[name]
    return math.log10(high / low) if name in space.LOG_SCALE else high - low


def _to_space(name: str, unit: float) -> float:
    """A [0, 1] coordinate back to the hyperparameter's value."""
    low, high = space.NUMERIC_BOUNDS[name]
    if name in space.LOG_SCALE:
        return float(10 ** (math.log10(low) + unit * math.log10(high / low)))
    return low + unit * (high - low)


def _row(trial: FrozenTrial) -> dict[str, Any]:
    row = {"number": trial.number, "value": trial.values[0], "params": dict(trial.params)}
    if len(trial.values) > 1:
        row["values"] = list(trial.values)
    return row


def _render_row(row: dict[str, Any], objectives: list[str] | None = None) -> str:
    """'- #3: 0.9120 sgd lr=…', or with objectives '- #3: accuracy 0.912, latency 1.3 at
    width 8: sgd lr=…'."""
    if not objectives:
        return f"- #{row['number']}: {row['value']:.4f} {space.HParams(**row['params']).brief()}"
    params = dict(row["params"])
    width = params.pop("model_width")
    scores = ", ".join(f"{n} {v:.4g}" for n, v in zip(objectives, row["values"], strict=True))
    return f"- #{row['number']}: {scores} at width {width}: {space.HParams(**params).brief()}"


def _render_cma(state: dict[str, Any] | None) -> str:
    if state is None:
        return "CMA-ES has not completed its first generation yet (no distribution to show)."
    mean = ", ".join(f"{n}={v:.3g}" for n, v in state["mean"].items())
    axes = [
        f"- axis {i + 1}: std {a['std']:.3g} along "
        + ", ".join(f"{n} {v:+.2f}" for n, v in a["direction"].items())
        for i, a in enumerate(state["axes"])
    ]
    return "\n".join(
        [
            f"CMA-ES generation {state['generation']}: mean {mean}; "
            f"step size σ {state['sigma']:.3g}.",
            "Main axes of the covariance (learning_rate, weight_decay in log10 units):",
            *axes,
            f"Not modelled by CMA-ES (sampled independently): {', '.join(state['not_modelled'])}.",
        ]
    )
