"""The K-1 phase-2 controller: when to grow, prune, merge and reorganize (operations.py).

Phase 1 is the plain K-1 sparse training on a fixed tree. From `phase2_after` steps on, the
controller (`StructureController.step`, called between training chunks) runs the operations
and adjusts itself from improvement trends: the learning rate (x0.7 when held-out loss rose
since the last step, x1.05 when it fell by more than 2 %, within [lr/10, 2 lr]) and each
operation's threshold (stricter after a rollback, looser after an accepted change, and a
slow loosening of prune/merge when they found no candidate for 3 steps). A stopping
controller freezes the structure for the rest of a domain after `patience` structural steps
in a row without held-out improvement, and a self-diagnostic names what it sees.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from trainlab.k1.agents import AgentLM, agent_name
from trainlab.k1.configs import StructureConfig
from trainlab.k1.operations import (
    Event,
    Host,
    Probe,
    grow,
    guarded,
    manager_share,
    merge,
    probe,
    prune,
    reorganize,
    similarity,
)


class StructureController:
    """Phase-2 autonomy: runs the operations, tunes lr and thresholds, freezes, diagnoses."""

    def __init__(self, cfg: StructureConfig, base_lr: float) -> None:
        self.cfg = copy.deepcopy(cfg)
        self.base_lr = base_lr
        self.history: list[dict[str, Any]] = []  # per structural step: losses, lr, thresholds
        self.dormant: dict[int, int] = {}  # agent id -> steps below prune_usage
        self.idle: dict[str, int] = {"prune": 0, "merge": 0}  # steps without a candidate
        self.stale = 0  # structural steps in a row without held-out improvement
        self.frozen_domain: str | None = None
        self.last_step = 0
        self.profiles: dict[int, dict[str, float]] = {}  # agent -> domain -> gate mass
        self.share: dict[int, float] = {}  # agent -> share of its manager's gate mass

    @property
    def phase(self) -> int:
        return 2 if self.last_step >= self.cfg.phase2_after else 1

    def state_dict(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "cfg"} | {
            "cfg": self.cfg.to_dict()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, StructureConfig(**value) if key == "cfg" else copy.deepcopy(value))
        self.dormant = {int(k): v for k, v in self.dormant.items()}
        self.profiles = {int(k): v for k, v in self.profiles.items()}
        self.share = {int(k): v for k, v in self.share.items()}

    def step(
        self,
        host: Host,
        domain: str,
        holdout: dict[str, torch.Tensor],
        evaluate: Callable[[torch.Tensor], float],
        total_steps: int,
    ) -> tuple[list[Event], list[str]]:
        """One structural step after a chunk; `holdout` = windows of the domains seen so far
        (the current one last). Returns the events and the diagnostics."""
        elapsed, self.last_step = total_steps - self.last_step, total_steps
        model = host.model

        def validate() -> float:
            return sum(evaluate(w) for w in holdout.values()) / len(holdout)

        current = probe(model, holdout[domain])
        share = manager_share(model, current.mass)
        for d, w in holdout.items():
            seen = current if d == domain else probe(model, w)
            for aid, m in seen.mass.items():
                self.profiles.setdefault(aid, {})[d] = m
        self.share = {a: round(v, 4) for a, v in share.items()}
        for aid in model.agent_ids():
            low = share[aid] < self.cfg.prune_usage
            self.dormant[aid] = self.dormant.get(aid, 0) + elapsed if low else 0
        val_all = validate()
        previous = self.history[-1] if self.history else None
        same_domain = previous is not None and previous["domain"] == domain
        trend = (previous["val_all"] - val_all) / previous["val_all"] if previous else 0.0
        gain = (
            (previous["val_domain"] - current.loss) / previous["val_domain"] if same_domain else 1.0
        )
        events: list[Event] = []
        if self.phase == 2:
            self._tune_lr(host, trend if previous else None)
            self.stale = self.stale + 1 if same_domain and trend <= 0 else 0
            if self.frozen_domain != domain and self.stale >= self.cfg.patience:
                self.frozen_domain = domain
                events.append({"op": "freeze", "domain": domain, "stale_steps": self.stale})
            if self.frozen_domain != domain:
                events += self._operate(host, current, share, gain, same_domain, validate)
        for e in events:
            e.update(step=total_steps, domain=domain, phase=self.phase)
        self.history.append({
            "step": total_steps, "domain": domain, "phase": self.phase,
            "val_all": round(val_all, 5), "val_domain": round(current.loss, 5),
            "lr": host.updater.lr, "agents": len(model.agent_ids()),
            "params": model.param_count(), "thresholds": self._thresholds(),
        })  # fmt: skip
        return events, self.diagnose(host, domain, gain, same_domain)

    # ---

    def _thresholds(self) -> dict[str, float]:
        c = self.cfg
        return {"grow_plateau": c.grow_plateau, "prune_usage": c.prune_usage,
                "prune_trust": c.prune_trust, "merge_similarity": c.merge_similarity}  # fmt: skip

    def _tune_lr(self, host: Host, trend: float | None) -> None:
        if trend is None:
            return
        lr = host.updater.lr
        if trend < 0:
            lr *= 0.7
        elif trend > 0.02:
            lr *= 1.05
        host.updater.set_lr(min(2 * self.base_lr, max(self.base_lr / 10, lr)))

    def _adapt(self, op: str, accepted: bool) -> None:
        c = self.cfg
        if op == "grow":
            c.grow_plateau = c.grow_plateau * 1.2 if accepted else c.grow_plateau * 0.5
        elif op == "prune":
            c.prune_usage = min(0.3, c.prune_usage * 1.1) if accepted else c.prune_usage * 0.5
            c.prune_trust = min(0.8, c.prune_trust * 1.05) if accepted else c.prune_trust * 0.8
        elif op == "merge":
            step = -0.01 if accepted else 0.03
            c.merge_similarity = min(0.99, max(0.5, c.merge_similarity + step))

    def _operate(
        self,
        host: Host,
        current: Probe,
        share: dict[int, float],
        gain: float,
        same_domain: bool,
        validate: Callable[[], float],
    ) -> list[Event]:
        events = []
        tol = self.cfg.tolerance

        def run(op: str, fn: Callable[[], Event]) -> None:
            event = guarded(host, fn, validate, tol)
            events.append(event)
            self._adapt(op, event["accepted"])

        # prune: the longest-dormant (or lowest-trust) agent of a manager with >= 2 agents
        trust = host.updater.trust
        candidates = [
            a for a in host.model.agent_ids()
            if len(host.model.tree[host.model.locate(a)[0]][host.model.locate(a)[1]]) > 1
            and (self.dormant.get(a, 0) >= self.cfg.dormant_steps
                 or trust[agent_name(a)] <= self.cfg.prune_trust)
        ]  # fmt: skip
        if candidates:
            aid = min(candidates, key=lambda a: (trust[agent_name(a)], share[a], a))
            why = f"dormant {self.dormant.get(aid, 0)} steps, share {share[aid]:.3f}, " \
                  f"trust {trust[agent_name(aid)]:.2f}"  # fmt: skip
            run("prune", lambda: prune(host.model, host.updater, aid, why))
            self.dormant.pop(aid, None)
            self.idle["prune"] = 0
        else:
            self.idle["prune"] += 1
            if self.idle["prune"] >= 3:  # seek: slowly loosen a threshold that finds nothing
                self.cfg.prune_usage = min(0.3, self.cfg.prune_usage * 1.25)
        # merge: the most similar pair within one manager, if similar enough
        best: tuple[float, int, int] | None = None
        for i, layer in enumerate(host.model.tree):
            h = current.inputs[i]
            for agents in layer:
                for x in range(len(agents)):
                    for y in range(x + 1, len(agents)):
                        s = similarity(host.model, agents[x], agents[y], h)
                        if best is None or s > best[0]:
                            best = (s, agents[x], agents[y])
        if best is not None and best[0] >= self.cfg.merge_similarity:
            s, a, b = best
            keep, absorb = (a, b) if current.mass.get(a, 0) >= current.mass.get(b, 0) else (b, a)
            run("merge", lambda: merge(host.model, host.updater, keep, absorb, current.mass, s))
            self.idle["merge"] = 0
        else:
            self.idle["merge"] += 1
            if self.idle["merge"] >= 3:
                self.cfg.merge_similarity = max(0.5, self.cfg.merge_similarity - 0.05)
        # grow: where the error mass of the current domain concentrates, if it plateaus
        if same_domain and gain < self.cfg.grow_plateau:
            room = [
                a for a in host.model.agent_ids()
                if len(host.model.tree[host.model.locate(a)[0]][host.model.locate(a)[1]])
                < self.cfg.max_agents_per_manager
            ]  # fmt: skip
            if room:
                parent = max(room, key=lambda a: current.error.get(a, 0.0))
                run("grow", lambda: grow(host.model, host.updater, parent))
        # reorganize: one agent whose usage profile fits another manager better
        move = self._best_move(host.model)
        if move is not None:
            aid, target = move
            run("reorganize", lambda: reorganize(host.model, aid, target))
        return events

    def _best_move(self, model: AgentLM) -> tuple[int, int] | None:
        doms = sorted({d for p in self.profiles.values() for d in p})
        if len(doms) < 2:
            return None

        def vec(aid: int) -> torch.Tensor:
            return torch.tensor([self.profiles.get(aid, {}).get(d, 0.0) for d in doms])

        best: tuple[float, int, int] | None = None
        for layer in model.tree:
            mvecs = [sum((vec(a) for a in agents), torch.zeros(len(doms))) for agents in layer]
            for m, agents in enumerate(layer):
                if len(agents) < 2:
                    continue
                for aid in agents:
                    own = F.cosine_similarity(vec(aid), mvecs[m] - vec(aid), dim=0, eps=1e-12)
                    for t, other in enumerate(mvecs):
                        if t == m or len(layer[t]) >= self.cfg.max_agents_per_manager:
                            continue
                        gap = float(F.cosine_similarity(vec(aid), other, dim=0, eps=1e-12) - own)
                        if gap > self.cfg.reorganize_margin and (best is None or gap > best[0]):
                            best = (gap, aid, t)
        return None if best is None else (best[1], best[2])

    def diagnose(self, host: Host, domain: str, gain: float, same_domain: bool) -> list[str]:
        """Plain sentences about what the controller sees now."""
        notes = []
        model = host.model
        for aid, steps in sorted(self.dormant.items()):
            if steps >= self.cfg.dormant_steps // 2 and aid in model.agent_ids():
                layer, manager = model.locate(aid)
                notes.append(f"agent {aid} (layer {layer}, manager {manager}) dormant for "
                             f"{steps} steps (share of its manager {self.share.get(aid, 0):.2f}"
                             f" < {self.cfg.prune_usage:.2f})")  # fmt: skip
        for name, t in host.updater.trust.items():
            if name.startswith("agent_") and t <= self.cfg.prune_trust:
                notes.append(f"{name.replace('_', ' ')} has low trust {t:.2f}")
        if same_domain and gain < self.cfg.grow_plateau:
            notes.append(f"held-out loss on {domain!r} plateaued ({gain:+.1%} since last step)")
        if self.frozen_domain == domain:
            notes.append(f"structure frozen for {domain!r}: {self.stale} steps without gain")
        if len(self.history) >= 2 and self.history[-1]["lr"] != self.history[-2]["lr"]:
            notes.append(f"learning rate now {host.updater.lr:.2e}")
        return notes
