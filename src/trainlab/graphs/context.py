"""What a graph run is given besides its state: the run settings as a context (the form Studio
shows), their defaults for Studio and notebooks (offline-capable, digits, seconds on a CPU), and
the one check that turns a bad input into one clear line.

`LabContext` is flat (the fields people change); a `settings` input of the lab overrides any
LabSettings field in its JSON form. K-1's context (graphs/k1.py) is K1Settings with tiny defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from trainlab.config import DataSettings, LabSettings, TrainSettings

Model = TypeVar("Model", bound=BaseModel)


class InputError(ValueError):
    """A graph's input or context is missing or invalid; the message says which key and why."""


def validated(model: type[Model], data: Mapping[str, Any], what: str) -> Model:
    """`model` from `data`, or an InputError naming `what` and each bad field on one line."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _input_error(exc, what) from None


def _input_error(exc: ValidationError, what: str) -> InputError:
    from trainlab.commands.options import one_line_error

    return InputError(f"{what}: {one_line_error(exc, None)}")


class ContextModel(BaseModel):
    """A run context: LangGraph builds it from the run's `context` dict (`Model(**context)`),
    so a bad field is an InputError of one line, not pydantic's multi-line report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _input_error(exc, "context") from None


def context_as(model: type[Model], context: Any) -> Model | None:
    """The run context as `model` (a graph composed in another gets the outer one's, often a
    dict), or None when none was given."""
    if context is None or isinstance(context, model):
        return context
    if isinstance(context, BaseModel):
        context = context.model_dump()
    return validated(model, context, "context")


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` applied key by key, nested mappings merged rather than replaced."""
    out = dict(base)
    for key, value in override.items():
        inner = out.get(key)
        both = isinstance(inner, Mapping) and isinstance(value, Mapping)
        out[key] = merged(inner, value) if both else value
    return out


STUDIO_SETTINGS = LabSettings(
    rounds=2,
    consult_turns=1,
    stagnation_rounds=0,
    train=TrainSettings(epochs=2, patience=2, augment="none", model_width=8, device="cpu"),
    data=DataSettings(dataset="digits", val_split=0.2),
)
# LabContext field → where it sits in LabSettings (its description and constraints come from there)
LAB_FIELDS: dict[str, tuple[str, ...]] = {
    "dataset": ("data", "dataset"),
    "rounds": ("rounds",),
    "epochs": ("train", "epochs"),
    "model_width": ("train", "model_width"),
    "consult_turns": ("consult_turns",),
    "val_split": ("data", "val_split"),
    "augment": ("train", "augment"),
    "device": ("train", "device"),
    "seed": ("train", "seed"),
    "stagnation_rounds": ("stagnation_rounds",),
    "offline": ("offline",),
}


def with_default(field: FieldInfo, value: Any) -> FieldInfo:
    """A copy of `field` (description, bounds) whose default is `value`."""
    copied = copy(field)
    copied.default, copied.default_factory = value, None
    return copied


def _lab_context() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, path in LAB_FIELDS.items():
        *parents, key = path
        model: Any = LabSettings
        value: Any = STUDIO_SETTINGS
        for parent in parents:
            model, value = model.model_fields[parent].annotation, getattr(value, parent)
        field = model.model_fields[key]
        fields[name] = (field.annotation, with_default(field, getattr(value, key)))
    doc = "The lab's run settings (Studio's form); the rest of LabSettings keep their defaults."
    return create_model("LabContext", __base__=ContextModel, __doc__=doc, **fields)


LabContext = _lab_context()


def lab_settings(context: Any, override: Mapping[str, Any] | None) -> LabSettings:
    """The run's settings: Studio's defaults, then the context's fields, then the override."""
    base = STUDIO_SETTINGS.model_dump(mode="json")
    fields = context_as(LabContext, context)
    for name, value in (fields.model_dump(mode="json") if fields else {}).items():
        *parents, key = LAB_FIELDS[name]
        inner = base
        for parent in parents:
            inner = inner[parent]
        inner[key] = value
    return validated(LabSettings, merged(base, override or {}), "settings")
