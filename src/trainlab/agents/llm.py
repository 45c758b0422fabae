"""Asking a role's chat model for a schema: sanitize, structured output, validate, retry once
with the error shown, and fall back to the role's offline policy — recorded — on any failure.
While the endpoint's breaker is open the model is not asked at all (`circuit open` recorded).

The schema goes to `with_structured_output` as a JSON-schema dict (not the pydantic class) so
that an invalid answer comes back as raw text we can show the model, instead of an exception
raised inside the client; validation against the pydantic schema happens here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.utils.json_schema import dereference_refs
from pydantic import BaseModel, ValidationError

from trainlab.agents.credentials import Redactor
from trainlab.agents.resilience import Breaker
from trainlab.agents.transcripts import TranscriptSink

Messages = list[tuple[str, str]]
S = TypeVar("S", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

# Structured-output methods, best first; an endpoint that rejects one gets the next.
METHODS = ("json_schema", "function_calling", "text")
UNSUPPORTED = (openai.BadRequestError, openai.UnprocessableEntityError, NotImplementedError)
RETRY = (
    "Your answer could not be used: {error}\n"
    "Answer again with every field, using concrete values inside the search space."
)
AS_JSON = "Reply with one JSON object only, no prose, matching this JSON Schema:\n{schema}"
MAX_REASON = 240
log = logging.getLogger(__name__)


class InvalidAnswer(ValueError):
    """The model's answer is unusable (placeholder, missing text, already trained, …)."""


def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The schema as a self-contained JSON-schema dict (refs inlined for picky endpoints)."""
    resolved = dereference_refs(schema.model_json_schema())
    resolved.pop("$defs", None)
    return resolved


def extract_json(text: str) -> dict[str, Any] | None:
    """The JSON object in a plain-text answer (code fences and prose around it allowed)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def served_model(message: AIMessage) -> str | None:
    """The model id the endpoint says answered (the response's `model` field)."""
    return message.response_metadata.get("model_name") or None


def _raw_text(message: AIMessage) -> str:
    if message.tool_calls:
        return json.dumps(message.tool_calls[0]["args"])
    return message.text


def describe_error(exc: Exception) -> str:
    """A short, single-line description of why an answer was rejected."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _offline(fallback: Callable[[], R], why: str) -> R:
    offline = fallback()
    return offline.model_copy(update={"policy": f"{offline.policy} ({why})"})


class RoleLLM:
    """One role's chat model: every exchange sanitized on the way in and transcribed."""

    def __init__(
        self,
        role: str,
        model: str,
        chat: BaseChatModel,
        sanitize: Callable[[str], str],
        redact: Redactor,
        transcripts: TranscriptSink,
        breaker: Breaker | None = None,
    ) -> None:
        self.role, self.model, self.chat = role, model, chat
        self.sanitize, self.redact, self.transcripts = sanitize, redact, transcripts
        self.breaker = breaker  # the endpoint's (shared by every role on it); None: never open
        self._warned: set[str] = set()  # served model ids already warned about
        self._method = 0  # index into METHODS of the best method this endpoint accepts

    @property
    def policy(self) -> str:
        return f"llm:{self.model}"

    def decide(
        self,
        round_: int,
        messages: Callable[[], Messages],
        schema: type[S],
        build: Callable[[S], R],
        fallback: Callable[[], R],
    ) -> R:
        """`build(answer)` from the model, or the offline `fallback()` with the reason recorded."""
        exchanges: list[dict[str, Any]] = []
        reason = None
        if self.breaker is not None and self.breaker.is_open:
            reason = self.redact(f"{self.breaker.origin} {self.breaker.reason}")[:MAX_REASON]
            decision = _offline(fallback, f"circuit open: {reason}")
        else:
            try:
                decision = self._ask(messages(), schema, build, exchanges)
            except Exception as exc:  # an LLM or search failure must never end the run
                reason = self.reason(exc)
                decision = _offline(fallback, f"fallback: {reason}")
        self.transcripts.write(
            round_,
            {
                "role": self.role,
                "model": self.model,
                "served_model": exchanges[-1]["served_model"] if exchanges else None,
                "policy": decision.policy,
                "fallback_reason": reason,
                "exchanges": exchanges,
            },
        )
        return decision

    def reason(self, exc: Exception) -> str:
        text = re.sub(r"\s+", " ", f"{type(exc).__name__}: {describe_error(exc)}")
        return self.redact(text)[:MAX_REASON]

    def _ask(
        self,
        messages: Messages,
        schema: type[S],
        build: Callable[[S], R],
        exchanges: list[dict[str, Any]],
    ) -> R:
        """One attempt, then one retry that shows the model why its answer was rejected."""
        convo = [(role, self.sanitize(text)) for role, text in messages]
        for _ in range(2):
            sent, text, data, served = self._complete(convo, schema)
            self._check_served(served)
            record = [{"role": r, "content": c} for r, c in sent]
            exchanges.append({"messages": record, "response": text, "served_model": served})
            try:
                if data is None:
                    raise InvalidAnswer("the answer is not a JSON object with the asked fields")
                return build(schema.model_validate(data))
            except ValueError as exc:  # ValidationError, SpaceError and InvalidAnswer
                error = exc
            retry = RETRY.format(error=describe_error(error))
            convo = [
                *convo,
                ("ai", self.sanitize(text or "(empty)")),
                ("human", self.sanitize(retry)),
            ]
        raise InvalidAnswer(f"after a retry: {describe_error(error)}") from error

    def _check_served(self, served: str | None) -> None:
        """Warn once per id when the endpoint answered with another model than the one asked
        (a retired id silently routed elsewhere): the run records both."""
        if served and served != self.model and served not in self._warned:
            self._warned.add(served)
            log.warning("%s: asked for model %s, %s answered", self.role, self.model, served)

    def _complete(
        self, convo: Messages, schema: type[BaseModel]
    ) -> tuple[Messages, str, Any, str | None]:
        """(messages sent, raw answer text, parsed dict or None, the model that answered); an
        endpoint that rejects a structured-output method gets the next one, and keeps the one
        that worked."""
        last = len(METHODS) - 1
        for index in range(self._method, last):
            try:
                result = self._call(METHODS[index], convo, schema)
            except UNSUPPORTED:
                continue
            self._method = index
            return result
        result = self._call(METHODS[last], convo, schema)
        self._method = last
        return result

    def _call(
        self, method: str, convo: Messages, schema: type[BaseModel]
    ) -> tuple[Messages, str, Any, str | None]:
        spec = json_schema(schema)
        if method == "text":
            sent = [*convo, ("human", self.sanitize(AS_JSON.format(schema=json.dumps(spec))))]
            message = self.chat.invoke(sent)
            return sent, message.text, extract_json(message.text), served_model(message)
        runnable = self.chat.with_structured_output(spec, method=method, include_raw=True)
        out = runnable.invoke(convo)
        parsed = None if out.get("parsing_error") else out.get("parsed")
        data = parsed if isinstance(parsed, dict) else None
        return convo, _raw_text(out["raw"]), data, served_model(out["raw"])
