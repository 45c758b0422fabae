"""The curated research prompts: every area covered, each fits the library offline, and an
unknown name fails clearly."""

from __future__ import annotations

import pytest

from trainlab.proposals import library, prompts_library
from trainlab.proposals.prompts_library import AREAS, UnknownPromptError


def test_every_area_of_the_seed_has_prompts_and_every_prompt_an_area() -> None:
    areas = {p.area for p in prompts_library.prompts().values()}
    assert areas == set(AREAS)


@pytest.mark.parametrize("name", list(prompts_library.prompts()))
def test_every_prompt_names_an_idea_the_library_can_test_offline(name) -> None:
    assert library.match(prompts_library.get(name).text)


def test_an_unknown_name_lists_close_names() -> None:
    with pytest.raises(UnknownPromptError, match="close names: calibration-loss"):
        prompts_library.get("calibraton")


def test_the_listing_groups_by_area() -> None:
    listing = prompts_library.listing()
    assert (
        listing.index("optimizers:")
        < listing.index("curvature-optimizer")
        < listing.index("losses:")
    )
