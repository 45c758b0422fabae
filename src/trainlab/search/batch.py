"""A round's batch of configurations (`--workers N`): distinct from each other and from every
trained or in-flight trial."""

from __future__ import annotations

from collections.abc import Callable

from trainlab.space import HParams

ASKS_PER_SLOT = 20  # the optimizer's asks tried per slot before the batch is left shorter


def batch_configs(
    first: HParams, ask: Callable[[int], HParams], taken: set[tuple], n: int
) -> list[HParams]:
    """`first` (the supervisor's choice), then the optimizer's asks `ask(0), ask(1), …` that
    are new: none in `taken` (trained or in flight, as `HParams.key()`) nor twice in the batch.
    At most `n`; fewer when the asks keep repeating what exists."""
    chosen, seen = [first], taken | {first.key()}
    for i in range(ASKS_PER_SLOT * n):
        if len(chosen) >= n:
            break
        candidate = ask(i)
        if candidate.key() not in seen:
            chosen.append(candidate)
            seen.add(candidate.key())
    return chosen
