"""One timeout/retry policy for every LLM and search call, and a circuit breaker per endpoint.

`CallPolicy` (from `TRAINLAB_LLM_*`) sets connect/read timeouts and retries: the OpenAI client
uses its own retries (jittered backoff honouring `Retry-After`), the search clients use tenacity
with the same numbers. Every HTTP attempt passes its endpoint's `Breaker` (one per origin,
per process): after K consecutive failed attempts, or consecutive failures lasting the outage
budget, the endpoint is open for the rest of the process — its roles use their offline policies
without calling it, and one warning says so. A new process (a resumed run) tries again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import tenacity

from trainlab.agents.credentials import EnvError

T = TypeVar("T")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_REASON = 160
log = logging.getLogger(__name__)


def _env_number(env: Mapping[str, str], name: str, default: float, cast: type) -> Any:
    """`env[name]` as a positive number (an integer ≥ 0 for counts), or the default if unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = cast(text)
    except ValueError:
        value = None
    if value is None or value < 0 or (cast is float and value == 0):
        kind = "an integer ≥ 0" if cast is int else "a positive number"
        raise EnvError(f"{name} must be {kind}, got {text!r}; fix or unset it")
    return value


@dataclass(frozen=True)
class CallPolicy:
    """Timeouts, retries and breaker thresholds shared by every LLM and search endpoint."""

    connect_s: float = 5.0  # TRAINLAB_LLM_CONNECT_TIMEOUT
    read_s: float = 60.0  # TRAINLAB_LLM_TIMEOUT: longest wait for an answer
    retries: int = 2  # TRAINLAB_LLM_MAX_RETRIES: on timeouts, connection errors, 429, 5xx
    breaker_failures: int = 3  # TRAINLAB_LLM_BREAKER: consecutive failed attempts that open it
    outage_s: float = 60.0  # TRAINLAB_LLM_OUTAGE_S: consecutive failing time that opens it
    max_wait_s: float = 20.0  # longest pause between attempts (Retry-After capped to it)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallPolicy:
        """The policy from the environment; a bad value is an `EnvError` naming the variable."""
        return cls(
            connect_s=_env_number(env, "TRAINLAB_LLM_CONNECT_TIMEOUT", cls.connect_s, float),
            read_s=_env_number(env, "TRAINLAB_LLM_TIMEOUT", cls.read_s, float),
            retries=_env_number(env, "TRAINLAB_LLM_MAX_RETRIES", cls.retries, int),
            breaker_failures=_env_number(env, "TRAINLAB_LLM_BREAKER", cls.breaker_failures, int),
            outage_s=_env_number(env, "TRAINLAB_LLM_OUTAGE_S", cls.outage_s, float),
        )

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_s, connect=self.connect_s)


class CircuitOpen(RuntimeError):
    """The endpoint's breaker is open: it is not called again in this process."""


def describe(exc: BaseException) -> str:
    """A short one-line reason (type and message; no URL, which may carry a key)."""
    text = re.sub(r"\s+", " ", f"{type(exc).__name__}: {exc}").strip()
    return text[:MAX_REASON]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Breaker:
    """One endpoint's circuit breaker: closed while it answers, open for good once it fails
    `failures_to_open` attempts in a row or keeps failing for `outage_s` seconds."""

    origin: str
    failures_to_open: int = CallPolicy.breaker_failures
    outage_s: float = CallPolicy.outage_s
    announce: Callable[[str], None] = field(default=log.warning, repr=False)
    failures: int = 0
    streak_start: float | None = None
    reason: str | None = None  # why it opened; None while closed

    @property
    def is_open(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        if self.reason is not None:
            raise CircuitOpen(f"{self.origin} {self.reason}")

    def success(self) -> None:
        if not self.is_open:
            self.failures, self.streak_start = 0, None

    def failure(self, reason: str, started: float) -> None:
        if self.is_open:
            return
        self.failures += 1
        self.streak_start = started if self.streak_start is None else self.streak_start
        elapsed = time.monotonic() - self.streak_start
        if self.failures >= self.failures_to_open or elapsed >= self.outage_s:
            self.trip(f"failed {self.failures}× in a row over {elapsed:.0f} s (last: {reason})")

    def trip(self, reason: str, announce: bool = True) -> None:
        """Open the breaker (once); `announce` prints the one warning of this endpoint."""
        if self.is_open:
            return
        self.reason = reason
        if announce:
            self.announce(
                f"LLM/search endpoint {self.origin} {reason}: its roles use their offline "
                "policies for the rest of this run (a resumed run tries it again)."
            )

    def guard(self, call: Callable[[], T], outage: Callable[[BaseException], bool]) -> T:
        """`call()` as one attempt: refused while open, its outcome recorded."""
        self.check()
        started = time.monotonic()
        try:
            result = call()
        except Exception as exc:
            if outage(exc):
                self.failure(describe(exc), started)
            else:  # the endpoint answered (a 4xx): it is alive
                self.success()
            raise
        self.success()
        return result


_BREAKERS: dict[str, Breaker] = {}


def breaker_for(url: str, policy: CallPolicy) -> Breaker:
    """The process-wide breaker of the endpoint that serves `url` (keyed by its origin)."""
    origin = origin_of(url)
    if origin not in _BREAKERS:
        _BREAKERS[origin] = Breaker(origin, policy.breaker_failures, policy.outage_s)
    return _BREAKERS[origin]


def reset_breakers() -> None:
    """Close every breaker (a new run in the same process, e.g. a notebook, tries again)."""
    _BREAKERS.clear()


def http_outage(exc: BaseException) -> bool:
    """Whether an httpx failure says the endpoint is down (not that it refused the request)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUS
    return isinstance(exc, httpx.TransportError)


class GuardedClient(httpx.Client):
    """An httpx client whose every request passes the endpoint's breaker and is recorded.
    (Subclassing rather than wrapping the transport keeps the environment's proxy settings.)"""

    def __init__(self, breaker: Breaker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.breaker = breaker

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self.breaker.check()
        started = time.monotonic()
        try:
            response = super().send(request, **kwargs)
        except httpx.TransportError as exc:
            self.breaker.failure(describe(exc), started)
            raise
        if response.status_code in RETRY_STATUS:
            self.breaker.failure(f"HTTP {response.status_code}", started)
        else:
            self.breaker.success()
        return response


def retry_after_s(exc: BaseException | None) -> float | None:
    """The server's `Retry-After`/`retry-after-ms` in seconds, from an httpx/openai/googleapi
    error, or None."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        headers = getattr(exc, "resp", None)  # googleapiclient's httplib2 response
    if not headers:
        return None
    try:
        if ms := headers.get("retry-after-ms"):
            return float(ms) / 1000
        if value := headers.get("retry-after"):
            if value.strip().isdigit():
                return float(value)
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
    return None


def call_with_retries(
    call: Callable[[], T],
    policy: CallPolicy,
    breaker: Breaker,
    transient: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()` retried on transient failures with jittered exponential backoff (or the
    server's `Retry-After`), at most `policy.attempts` times, never once the breaker is open."""
    backoff = tenacity.wait_exponential_jitter(initial=1.0, max=policy.max_wait_s, jitter=1.0)

    def wait(state: tenacity.RetryCallState) -> float:
        after = retry_after_s(state.outcome.exception() if state.outcome else None)
        return backoff(state) if after is None else min(after, policy.max_wait_s)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_any(
            tenacity.stop_after_attempt(policy.attempts), lambda _: breaker.is_open
        ),
        wait=wait,
        retry=tenacity.retry_if_exception(transient),
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)


def probe(base_url: str, key: str, policy: CallPolicy, breaker: Breaker) -> None:
    """`GET {base_url}/models` with the connect timeout for every phase, retried like any call:
    an endpoint that never answers, or rejects the key, is opened before the first decision
    (silently: the mode line says so). Any other answer, even a 404, means it is alive."""
    if breaker.is_open:
        return
    url = f"{base_url.rstrip('/')}/models"

    def get() -> httpx.Response:
        with httpx.Client(timeout=httpx.Timeout(policy.connect_s)) as client:
            response = client.get(url, headers={"authorization": f"Bearer {key}"})
        if response.status_code in RETRY_STATUS:
            response.raise_for_status()
        return response

    try:
        response = call_with_retries(get, policy, breaker, http_outage)
    except httpx.HTTPError as exc:
        status = isinstance(exc, httpx.HTTPStatusError) and f"HTTP {exc.response.status_code}"
        breaker.trip(f"is unreachable ({status or describe(exc)})", announce=False)
        return
    if response.status_code in (401, 403):
        breaker.trip(f"rejected the key (HTTP {response.status_code})", announce=False)
