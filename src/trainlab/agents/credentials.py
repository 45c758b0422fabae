"""API endpoints and keys, read from the environment only when a client is built; `.env`
(the nearest in the working directory or a parent) is read once per process by `load_env`.

Precedence for a role's chat model: `GEMINI_API_KEY_<ROLE>`, then `GEMINI_API_KEY` (both against
`GEMINI_OPENAI_BASE_URL`), then `OPENAI_API_KEY` (against `OPENAI_BASE_URL`, OpenAI's own API
when unset or empty). No key: that role stays offline. Keys never leave this module except into
a client; `redact` removes them from any text that is recorded or shown.
"""

from __future__ import annotations

import functools
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import find_dotenv, load_dotenv
from dotenv.parser import parse_stream

GEMINI_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ROLE_KEY_VARS: dict[str, str] = {
    "gen_a": "GEMINI_API_KEY_GEN_A",
    "gen_b": "GEMINI_API_KEY_GEN_B",
    "supervisor": "GEMINI_API_KEY_SUP",
    "exec": "GEMINI_API_KEY_EXEC",
    "researcher": "GEMINI_API_KEY_RES",
}
SECRET_VARS: tuple[str, ...] = (
    *ROLE_KEY_VARS.values(),
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_CSE_API_KEY",
)
REDACTED = "[redacted]"
log = logging.getLogger(__name__)


class EnvError(ValueError):
    """The environment or `.env` is unusable; the message is one line naming the file or the
    variable and the fix (the CLI prints it and exits 2)."""


def load_env() -> Mapping[str, str]:
    """The process environment after reading the nearest `.env` (once per file and process;
    variables already set win). Unparsable lines are skipped and reported once."""
    if path := find_dotenv(usecwd=True):
        _apply_dotenv(Path(path).resolve())
    return os.environ


@functools.cache
def _apply_dotenv(path: Path) -> None:
    text = _read_text(path)
    bindings = list(parse_stream(io.StringIO(text)))
    if bad := [str(b.original.line) for b in bindings if b.error]:
        log.warning("%s: ignored unparsable line(s) %s (expected NAME=value)", path, ", ".join(bad))
    load_dotenv(stream=io.StringIO("".join(b.original.string for b in bindings if not b.error)))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnvError(f"{path}: cannot be read ({exc.strerror}); fix or remove it") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf16 = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise EnvError(
            f"{path}: not UTF-8 text{utf16}, undecodable byte at offset {exc.start}; "
            "save it as UTF-8"
        ) from exc


@dataclass(frozen=True)
class Endpoint:
    """Where one role's chat model lives; `key_var` names the variable, never its value."""

    base_url: str
    key_var: str
    key: str = field(repr=False)

    @property
    def is_gemini(self) -> bool:
        return self.key_var.startswith("GEMINI_")


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def endpoint_for(role: str, env: Mapping[str, str]) -> Endpoint | None:
    """The endpoint and key a role uses, or None when no key is set for it."""
    for var in (ROLE_KEY_VARS[role], "GEMINI_API_KEY"):
        if key := _get(env, var):
            return Endpoint(
                _get(env, "GEMINI_OPENAI_BASE_URL") or GEMINI_DEFAULT_BASE_URL, var, key
            )
    if key := _get(env, "OPENAI_API_KEY"):
        return Endpoint(
            _get(env, "OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL, "OPENAI_API_KEY", key
        )
    return None


def gemini_native_base(openai_base: str) -> str:
    """The native Gemini API base: the OpenAI-compatible base without its trailing `openai/`."""
    base = openai_base.rstrip("/")
    return base.removesuffix("/openai") + "/"


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(value for var in SECRET_VARS if (value := _get(env, var)))


@dataclass(frozen=True)
class Redactor:
    """Removes every known secret from a text (exception messages, transcripts, reasons)."""

    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __call__(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text
