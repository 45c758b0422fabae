"""A user's own components: `register_component(name, kind, fn)` puts an optimizer, loss or
model into the registry, so that `ExperimentConfig`, `python main.py experiment` and the
proposal team can name it like a library component.

What `fn` is, by kind (a simpler contract than the registry's factories):

    optimizer:    fn(params, lr=..., weight_decay=...) -> torch.optim.Optimizer
                  (a torch.optim class itself works: torch.optim.RMSprop)
    loss:         an nn.Module class (instantiated once per run), or a function
                  (logits, targets) -> scalar loss
    architecture: fn(num_classes, in_channels) -> nn.Module (an image classifier)

Registrations live in the process. For the CLI, name modules that register components in
`TRAINLAB_COMPONENTS` (comma-separated); `main.py` imports them first.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from trainlab.components import registry
from trainlab.components.registry import Component, Kind

PLUGINS_VAR = "TRAINLAB_COMPONENTS"
USER_REFERENCE = "user-supplied (registered in this process)"
DEFAULT_BASELINE: dict[str, str] = {
    "optimizer": "adamw",
    "loss": "cross_entropy",
    "architecture": "plain_mlp",
}
# ExperimentConfig field -> the seed's spelling of a callable for it (model_fn=my_model, ...)
CALLABLE_FIELDS: dict[str, str] = {
    "model": "model_fn",
    "optimizer": "optimizer_fn",
    "loss": "loss_fn",
}
FIELD_KIND: dict[str, Kind] = {"model": "architecture", "optimizer": "optimizer", "loss": "loss"}
CUSTOM: set[str] = set()  # names registered by users (built-in names cannot be replaced)


class CustomComponentError(ValueError):
    """A registration that cannot work: not callable, a bad name, kind or baseline."""


def _factory(kind: Kind, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The registry's factory signature around the user's simpler one."""
    if kind == "optimizer":
        return lambda params, hp, ctx: fn(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    if kind == "loss":
        return lambda ctx: fn() if isinstance(fn, type) else fn
    return lambda num_classes, in_channels, ctx: fn(num_classes, in_channels)


def _check(name: str, kind: str, fn: Any, baseline: str) -> None:
    if not callable(fn):
        raise CustomComponentError(
            f"register_component({name!r}): the {kind} must be callable, got "
            f"{type(fn).__name__} {fn!r}"
        )
    if kind not in registry.KINDS:
        raise CustomComponentError(f"kind must be one of {', '.join(registry.KINDS)}, got {kind!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise CustomComponentError(f"name must be lower_snake_case, got {name!r}")
    if name in registry.REGISTRY and name not in CUSTOM:
        raise CustomComponentError(f"{name!r} is a library component; choose another name")
    base = registry.get(baseline, kind)  # UnknownComponentError names the choices
    if base.baseline is not None:
        raise CustomComponentError(f"baseline must be a baseline component, not {baseline!r}")


def register_component(
    name: str,
    kind: Kind,
    fn: Callable[..., Any],
    *,
    idea: str = "",
    baseline: str | None = None,
    lr: float | None = None,
    expected: str = "",
    memory: str = "unknown",
    time: str = "unknown",
) -> Component:
    """Register `fn` as component `name` of `kind`, measured against `baseline` (AdamW, cross
    entropy or a parameter-matched plain MLP by default). Registering a user name again
    replaces it; a library name or a non-callable raises CustomComponentError."""
    baseline = baseline or DEFAULT_BASELINE.get(kind, "")
    _check(name, kind, fn, baseline)
    label = getattr(fn, "__name__", type(fn).__name__)
    component = Component(
        name,
        kind,
        idea or f"user-supplied {kind} {label}",
        USER_REFERENCE,
        memory,
        time,
        _factory(kind, fn),
        baseline=baseline,
        expected=expected,
        lr=lr,
    )
    registry.REGISTRY[name] = component
    CUSTOM.add(name)
    return component


def unregister_component(name: str) -> None:
    """Remove a user's component (library components stay)."""
    if name in CUSTOM:
        CUSTOM.discard(name)
        del registry.REGISTRY[name]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "custom"


def register_callables(data: Mapping[str, Any]) -> dict[str, Any]:
    """ExperimentConfig input with callables (`optimizer_fn=my_opt` or `optimizer=my_opt`)
    registered and replaced by their names; `name=` (the seed's) names them."""
    values = dict(data)
    found = {
        field: values.pop(alias, values.get(field)) for field, alias in CALLABLE_FIELDS.items()
    }
    found = {f: fn for f, fn in found.items() if fn is not None and not isinstance(fn, str)}
    if not found:
        return values
    prefix = _slug(str(values.pop("name", "") or ""))
    for field, fn in found.items():
        label = getattr(fn, "__name__", type(fn).__name__)
        name = f"{prefix}_{field}" if prefix != "custom" else f"custom_{_slug(label)}"
        values[field] = register_component(name, FIELD_KIND[field], fn).name
    return values


def load_plugins(env: Mapping[str, str]) -> list[str]:
    """Import the modules named in TRAINLAB_COMPONENTS (they call register_component)."""
    modules = [m.strip() for m in env.get(PLUGINS_VAR, "").split(",") if m.strip()]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CustomComponentError(f"{PLUGINS_VAR}: cannot import {module!r} ({exc})") from None
    return modules
