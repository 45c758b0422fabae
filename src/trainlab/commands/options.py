"""What every command shares: the one-line parser, argument types, the one-line error and the
flags generated from the pydantic settings (each field's help, default and type written once).

A settings field becomes `--kebab-case-name`; `json_schema_extra={"flag": "--width"}` renames
it, `{"flag_choices": {"on": True, "off": False}}` spells its values and `{"names": (...)}`
lists what a tuple field may hold. Literal → choices,
bool → `--x/--no-x`, int with ge=1 / ge=0 → positive_int / non_negative_int, a float bounded on
both sides → number_in, tuple → comma-separated names, dict[str, str] → one `--field.KEY` per
default key, a nested model → its own flags. Other constraints are pydantic's, reported by flag.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


class UsageError(Exception):
    """Bad input the user can fix: reported as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def exit_code(exc: SystemExit) -> int:
    """The status of an argparse exit (--help: 0, a bad flag: 2)."""
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


def fail(message: str, stream: typing.TextIO | None = None) -> int:
    """Print `error: message` (stderr unless told) and return exit status 2."""
    print(f"error: {message}", file=stream or sys.stderr)
    return 2


def one_line_error(exc: Exception, flags: Mapping[str, str] | None = None) -> str:
    """One line for the user: for validation errors, each bad field named by its flag."""
    if not isinstance(exc, ValidationError):
        return " ".join(str(exc).split())
    flags = flags or {}
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{flags.get(field, field)}: {message}" if field else message)
    return "; ".join(parts)


# ---------------------------------------------------------------------------------- types


def positive_int(text: str) -> int:
    value = _parse(int, "an integer", text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text} (must be > 0)")
    return value


def non_negative_int(text: str) -> int:
    value = _parse(int, "an integer", text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def number_in(low: float, high: float, low_open: bool, high_open: bool) -> Callable[[str], float]:
    """A float inside an interval, e.g. number_in(0, 1, True, False) is (0, 1]."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        value = _parse(float, "a number", text)
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (above and below):
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse


fraction = number_in(0.0, 1.0, low_open=False, high_open=True)


def name_list(allowed: tuple[str, ...] | None, allow_empty: bool) -> Callable[[str], tuple]:
    """Comma-separated distinct names (from `allowed` when given)."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if allowed is not None and n not in allowed]
        if unknown:
            choices = ", ".join(allowed or ())
            raise argparse.ArgumentTypeError(f"unknown name {unknown[0]!r}; choose from {choices}")
        if not names and not allow_empty:
            raise argparse.ArgumentTypeError("needs at least one name")
        if len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"repeated name in {text!r}")
        return names

    parse.__name__ = "name list"
    return parse


def _parse(kind: type, what: str, text: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


# ------------------------------------------------------------------------ generated flags


def add_settings_flags(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    title: str | None = None,
    skip: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> dict[str, str]:
    """Add one flag per field of `model` (nested models recursively, each in its own group).

    Returns field path ("train.epochs") → flag, so errors can name what the user typed.
    `defaults` overrides a field's default for this command (shown in --help).
    """
    defaults = defaults or {}
    group = parser.add_argument_group(title or model.__name__)
    flags: dict[str, str] = {}
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        path = f"{prefix}{name}"
        nested = _nested_model(field)
        if nested is not None:
            flags |= add_settings_flags(parser, nested, name, skip, defaults.get(name), f"{path}.")
            continue
        default = defaults.get(name, field.get_default(call_default_factory=True))
        if isinstance(default, dict):
            for key, value in default.items():
                flag = f"--{name}.{key}"
                group.add_argument(flag, dest=f"{path}.{key}", default=value, metavar="VALUE",
                                   help=_help(field, value, f"{name} for {key}"))  # fmt: skip
                flags[f"{path}.{key}"] = flag
            continue
        flag = (field.json_schema_extra or {}).get("flag") or "--" + name.replace("_", "-")
        group.add_argument(flag, dest=path, **_argument(field, default, flag))
        flags[path] = flag
    return flags


def settings_from(model: type[BaseModel], args: argparse.Namespace, **extra: Any) -> Any:
    """The settings object from the generated flags, validated whole (errors carry the field
    path, e.g. `train.model_width`, which the flags map names as `--width`)."""
    return model.model_validate(_values(model, args, "") | extra)


def _values(model: type[BaseModel], args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _nested_model(field)
        if nested is not None:
            values[name] = _values(nested, args, f"{path}.")
        elif hasattr(args, path):
            values[name] = _value(field, getattr(args, path))
        elif keyed := dict(_keyed(args, f"{path}.")):
            values[name] = keyed
    return values


def field_help(model: type[BaseModel]) -> Iterator[tuple[str, Any]]:
    """(flag, default) of every generated flag of `model`, for tests of --help."""
    parser = OneLineParser(add_help=False)
    add_settings_flags(parser, model)
    for action in parser._actions:
        yield action.option_strings[0], action.default


def _keyed(args: argparse.Namespace, prefix: str) -> Iterator[tuple[str, Any]]:
    for dest, value in vars(args).items():
        if dest.startswith(prefix) and "." not in dest.removeprefix(prefix):
            yield dest.removeprefix(prefix), value


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    kind = field.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _value(field: FieldInfo, value: Any) -> Any:
    mapping = (field.json_schema_extra or {}).get("flag_choices")
    return mapping[value] if mapping and isinstance(value, str) else value


def _help(field: FieldInfo, default: Any, fallback: str = "") -> str:
    shown = default
    mapping = (field.json_schema_extra or {}).get("flag_choices")
    if mapping:
        shown = next((k for k, v in mapping.items() if v == default), default)
    elif isinstance(default, tuple):
        shown = ",".join(map(str, default))
    text = (field.description or fallback).replace("%", "%%")
    return f"{text} (default: {shown})".strip()


def _argument(field: FieldInfo, default: Any, flag: str) -> dict[str, Any]:
    """argparse keywords for one field: type or choices or action, default and help."""
    kind = _strip_optional(field.annotation)
    extra = field.json_schema_extra or {}
    out: dict[str, Any] = {"default": default, "help": _help(field, default)}
    if mapping := extra.get("flag_choices"):
        shown = next((k for k, v in mapping.items() if v == default), default)
        return out | {"choices": list(mapping), "default": shown}
    if kind is bool:
        return out | {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(kind) is typing.Literal:
        return out | {"choices": list(typing.get_args(kind))}
    if typing.get_origin(kind) is tuple:
        inner = typing.get_args(kind)[0]
        literal = typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else None
        allowed = extra.get("names", literal)
        empty = not any(isinstance(m, at.MinLen) and m.min_length > 0 for m in field.metadata)
        return out | {"type": name_list(allowed, empty), "metavar": "A,B"}
    metavar = flag.removeprefix("--").replace("-", "_").upper()
    return out | {"type": _scalar_type(kind, field.metadata), "metavar": metavar}


def _strip_optional(kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    is_union = typing.get_origin(kind) in (typing.Union, types.UnionType)
    return args[0] if is_union and len(args) == 1 else kind


def _scalar_type(kind: Any, metadata: list[Any]) -> Callable[[str], Any]:
    bounds = {type(m).__name__: m for m in metadata if isinstance(m, at.Ge | at.Gt | at.Le | at.Lt)}
    if kind is int:
        low = bounds.get("Ge")
        if low is not None and low.ge in (0, 1) and len(bounds) == 1:
            return positive_int if low.ge == 1 else non_negative_int
        return int
    if kind is float:
        low, high = bounds.get("Gt") or bounds.get("Ge"), bounds.get("Lt") or bounds.get("Le")
        if low is not None and high is not None:
            low_value = getattr(low, "gt", getattr(low, "ge", None))
            high_value = getattr(high, "lt", getattr(high, "le", None))
            return number_in(low_value, high_value, "Gt" in bounds, "Lt" in bounds)
        return float
    return Path if kind is Path else str
