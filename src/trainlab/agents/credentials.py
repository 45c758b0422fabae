"""API endpoints and keys, read from the environment only when a client is built.

Precedence for a role's chat model: `GEMINI_API_KEY_<ROLE>`, then `GEMINI_API_KEY` (both against
`GEMINI_OPENAI_BASE_URL`), then `OPENAI_API_KEY` (against `OPENAI_BASE_URL`, OpenAI's own API
when unset or empty). No key: that role stays offline. Keys never leave this module except into
a client; `redact` removes them from any text that is recorded or shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
