"""Builds the run's advisors: an LLM policy for every role with a key (wrapping the role's
offline policy), the offline policy for the others, and the one-line mode description.
Every client follows the one call policy and its endpoint's breaker (`agents/resilience.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from trainlab.agents.anonymize import Anonymizer
from trainlab.agents.base import Advisors
from trainlab.agents.credentials import (
    Endpoint,
    Redactor,
    endpoint_for,
    gemini_native_base,
    load_env,
    secret_values,
)
from trainlab.agents.llm import RoleLLM
from trainlab.agents.offline import TPEConsultant, offline_advisors
from trainlab.agents.resilience import (
    Breaker,
    CallPolicy,
    GuardedClient,
    breaker_for,
    reset_breakers,
)
from trainlab.agents.resilience import probe as probe_endpoint
from trainlab.agents.roles import LLMAnalyst, LLMConsultant, LLMResearcher, LLMSupervisor
from trainlab.agents.transcripts import TranscriptSink
from trainlab.config import ROLE_NODES, ROLES, LabSettings
from trainlab.research.arxiv import ARXIV_API, ArxivSearch
from trainlab.research.search import CSESearch, GeminiGroundedSearch, SearchProvider

OFFLINE = (
    "Agents: offline policies (the run's Optuna study, expert rules, allocation, heuristics, "
    "knowledge base)"
)


def environment(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """`env`, or the process environment after reading `.env` once (cwd or a parent)."""
    return load_env() if env is None else env


@dataclass(frozen=True)
class ClientSetup:
    """What every LLM client of a run shares: the sanitizer, the redactor, the transcripts and
    the call policy; each endpoint's breaker comes from the policy (one per origin)."""

    sanitize: Anonymizer
    redact: Redactor
    sink: TranscriptSink
    policy: CallPolicy

    def breaker(self, endpoint: Endpoint) -> Breaker:
        return breaker_for(endpoint.base_url, self.policy)

    def chat(self, model: str, endpoint: Endpoint) -> ChatOpenAI:
        """One client: the policy's timeouts and retries (openai's own: jittered backoff
        honouring Retry-After), every attempt through the endpoint's breaker."""
        return ChatOpenAI(
            model=model,
            api_key=SecretStr(endpoint.key),
            base_url=endpoint.base_url,
            timeout=self.policy.timeout(),
            max_retries=self.policy.retries,
            http_client=GuardedClient(self.breaker(endpoint), timeout=self.policy.timeout()),
        )

    def role_llm(
        self, name: str, model: str, endpoint: Endpoint, chat: ChatOpenAI | None = None
    ) -> RoleLLM:
        """`name`'s model on `endpoint` (`chat`: a client shared by several roles)."""
        chat = chat or self.chat(model, endpoint)
        return RoleLLM(
            name, model, chat, self.sanitize, self.redact, self.sink, self.breaker(endpoint)
        )

    def probe(self, endpoints: Iterable[Endpoint]) -> None:
        """Ask each endpoint once, so that a first line built afterwards is true."""
        for endpoint in {ep.base_url: ep for ep in endpoints}.values():
            probe_endpoint(endpoint.base_url, endpoint.key, self.policy, self.breaker(endpoint))


def client_setup(
    env: Mapping[str, str],
    anonymize: bool,
    terms: list[str],
    run_dir_provider: Callable[[], Path | None],
) -> ClientSetup:
    """The shared setup of a run's clients (the lab's advisors, the proposal team)."""
    redact = Redactor(secret_values(env))
    return ClientSetup(
        Anonymizer(anonymize, terms),
        redact,
        TranscriptSink(run_dir_provider, redact),
        CallPolicy.from_env(env),
    )


def chat_model(model: str, endpoint: Endpoint, env: Mapping[str, str]) -> ChatOpenAI:
    """One client outside a run (no transcripts): `ClientSetup.chat` under `env`'s policy."""
    return client_setup(env, False, [], lambda: None).chat(model, endpoint)


def search_provider(
    settings: LabSettings, endpoint: Endpoint, env: Mapping[str, str]
) -> tuple[SearchProvider | None, str]:
    """The researcher's web search (None: the knowledge base) and how to describe it.
    `auto` takes the first that the keys allow: Gemini grounding, CSE, then arXiv only when
    TRAINLAB_SEARCH_ARXIV=1 (so that nothing reaches the network unasked)."""
    choice = settings.search_provider
    if choice == "offline":
        return None, "knowledge base (--search-provider offline)"
    policy = CallPolicy.from_env(env)
    builders = {"gemini": _gemini_search, "cse": _cse_search, "arxiv": _arxiv_search}
    if choice != "auto":
        return builders[choice](settings, endpoint, env, policy)
    reasons = []
    for name, make in builders.items():
        if name == "arxiv" and env.get("TRAINLAB_SEARCH_ARXIV", "").strip() != "1":
            reasons.append("arXiv needs --search-provider arxiv or TRAINLAB_SEARCH_ARXIV=1")
            break
        provider, description = make(settings, endpoint, env, policy)
        if provider is not None:
            return provider, f"{description} (auto)"
        reasons.append(description.removeprefix("knowledge base (").removesuffix(")"))
    return None, f"knowledge base ({'; '.join(reasons)})"


def _gemini_search(
    settings: LabSettings, endpoint: Endpoint, env: Mapping[str, str], policy: CallPolicy
) -> tuple[SearchProvider | None, str]:
    if env.get("GEMINI_USE_GOOGLE_SEARCH", "true").strip().lower() in {"0", "false", "no"}:
        return None, "knowledge base (GEMINI_USE_GOOGLE_SEARCH is off)"
    if not endpoint.is_gemini:
        return None, "knowledge base (Google Search grounding needs a Gemini key)"
    base = gemini_native_base(endpoint.base_url)
    provider = GeminiGroundedSearch(
        base, endpoint.key, settings.models["researcher"],
        policy=policy, breaker=breaker_for(base, policy),
    )  # fmt: skip
    return provider, "Gemini Google Search grounding"


def _cse_search(
    settings: LabSettings, endpoint: Endpoint, env: Mapping[str, str], policy: CallPolicy
) -> tuple[SearchProvider | None, str]:
    key, cx = env.get("GOOGLE_CSE_API_KEY", ""), env.get("GOOGLE_CSE_ID", "")
    if not (key and cx):
        return None, "knowledge base (GOOGLE_CSE_API_KEY and GOOGLE_CSE_ID are not both set)"
    provider = CSESearch(key, cx, policy=policy, breaker=breaker_for(CSESearch.origin, policy))
    return provider, "Google Programmable Search (CSE)"


def _arxiv_search(
    settings: LabSettings, endpoint: Endpoint, env: Mapping[str, str], policy: CallPolicy
) -> tuple[SearchProvider | None, str]:
    provider = ArxivSearch(policy=policy, breaker=breaker_for(ARXIV_API, policy))
    return provider, "arXiv (public Atom API, no key)"


def build_advisors(
    settings: LabSettings,
    run_dir_provider: Callable[[], Path | None],
    env: Mapping[str, str] | None = None,
    probe_endpoints: bool = False,
) -> tuple[Advisors, str]:
    """The advisors of a run and the line that says which policies serve it.

    `env` defaults to the process environment after reading `.env` (cwd or a parent); keys are
    read here, handed to the clients and never stored in settings, state or records. A new
    run starts with every breaker closed; `probe_endpoints` (the CLI) asks each endpoint once
    so that the mode line is true from the start.
    """
    env = environment(env)
    reset_breakers()
    offline = offline_advisors(settings.train.seed, settings.agent_share)
    if settings.offline:
        return offline, f"{OFFLINE}; --offline given."
    endpoints = {role: ep for role in ROLES if (ep := endpoint_for(role, env))}
    if not endpoints:
        return offline, f"{OFFLINE}; no API key set (GEMINI_API_KEY, see docs/LLM.md)."
    setup = client_setup(env, settings.anonymize, [settings.data.dataset], run_dir_provider)
    llms = {role: setup.role_llm(role, settings.models[role], ep) for role, ep in endpoints.items()}
    provider, research = None, "knowledge base (researcher offline)"
    if "researcher" in llms:
        provider, research = search_provider(settings, endpoints["researcher"], env)
    advisors = llm_advisors(settings.train.seed, llms, provider, offline)
    if probe_endpoints:
        setup.probe(endpoints.values())
    return advisors, mode_line(settings, endpoints, research, env)


def llm_advisors(
    seed: int, llms: Mapping[str, RoleLLM], provider: SearchProvider | None, offline: Advisors
) -> Advisors:
    """LLM policies where a node's role (ROLE_NODES) has a model, each wrapping its offline one."""
    sampler = TPEConsultant(seed)
    role_of = {node: role for role, node in ROLE_NODES.items()}
    make: dict[str, Callable[[RoleLLM, Any], Any]] = {
        "consultant_a": lambda m, off: LLMConsultant("consultant_a", m, off, sampler),
        "consultant_b": lambda m, off: LLMConsultant("consultant_b", m, off, sampler),
        "supervisor": lambda m, off: LLMSupervisor(m, off, sampler),
        "analyst": lambda m, off: LLMAnalyst(m, off),
    }

    def pick(node: str) -> Any:
        fallback, role = getattr(offline, node), role_of[node]
        return make[node](llms[role], fallback) if role in llms else fallback

    researcher = (
        LLMResearcher(llms[role_of["researcher"]], offline.researcher, provider)
        if provider
        else offline.researcher
    )
    return Advisors(**{node: pick(node) for node in make}, researcher=researcher)


def mode_line(
    settings: LabSettings,
    endpoints: Mapping[str, Endpoint],
    research: str,
    env: Mapping[str, str],
) -> str:
    """Which policy serves each role; roles whose endpoint is already open are offline."""
    policy = CallPolicy.from_env(env)
    down = {r: b for r, ep in endpoints.items() if (b := breaker_for(ep.base_url, policy)).is_open}
    outages = "; ".join(sorted({f"LLM endpoint {b.origin} {b.reason}" for b in down.values()})) + (
        f" — offline policies for {', '.join(down)} (a resumed run tries again)" if down else ""
    )
    live = {r: ep for r, ep in endpoints.items() if r not in down}
    if not live:
        return f"{OFFLINE}; {outages}."
    models = ", ".join(f"{r}={settings.models[r]}" for r in ROLES if r in live)
    offline = [r for r in ROLES if r not in endpoints]
    urls = sorted({ep.base_url for ep in live.values()})
    keys = sorted({ep.key_var for ep in live.values()})
    anonymized = "anonymized" if settings.anonymize else "NOT anonymized"
    return (
        f"Agents: LLM {models} via {', '.join(urls)} (keys: {', '.join(keys)})"
        + (f"; offline policies for {', '.join(offline)}" if offline else "")
        + (f"; {outages}" if down else "")
        + f"; research: {research}; prompts {anonymized}."
    )
