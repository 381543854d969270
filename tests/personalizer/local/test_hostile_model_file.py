"""The export's trailer: a whole model of the current policy passes; any cut, flip or other policy fails."""

from __future__ import annotations

import pytest

from bot.personalizer.local.model_file import checked_model, strip_trailer, with_trailer
from bot.personalizer.local.policy import Policy, effective_arguments

POLICY = "--cb_explore_adf -q CA --interactions CCA --synthcover"


@pytest.fixture(scope="module")
def model() -> bytes:
    """A model that has learned a little."""
    policy = Policy(effective_arguments(POLICY, 0.2))
    for n in range(50):
        policy.learn([f"shared |C u={n % 2}", "0:-1:0.5 |A id=a", "|A id=b"])
    try:
        return policy.to_bytes()
    finally:
        policy.close()


def test_a_whole_export_gives_back_the_model(model: bytes) -> None:
    assert checked_model(with_trailer(model, POLICY), POLICY) == model
    assert checked_model(with_trailer(model, POLICY), "  " + POLICY.replace(" ", "  ")) == model


def test_the_stripped_export_loads_in_vowpal_wabbit(model: bytes) -> None:
    loaded = Policy(effective_arguments(POLICY, 0.2), strip_trailer(with_trailer(model, POLICY)))
    try:
        assert len(loaded.predict(["shared |C u=1", "|A id=a", "|A id=b"])) == 2
    finally:
        loaded.close()


@pytest.mark.parametrize("cut", ["200", "half", "last", "flip", "empty", "raw"])
def test_damaged_exports_are_refused(model: bytes, cut: str) -> None:
    data = with_trailer(model, POLICY)
    damaged = {
        "200": data[:200],
        "half": data[: len(data) // 2],
        "last": data[:-1],
        "flip": data[:10] + bytes([data[10] ^ 1]) + data[11:],
        "empty": b"",
        "raw": model,
    }[cut]
    with pytest.raises(ValueError):
        checked_model(damaged, POLICY)


def test_another_policy_is_refused(model: bytes) -> None:
    with pytest.raises(ValueError, match="policy"):
        checked_model(with_trailer(model, POLICY), "--cb_explore_adf -q CA --squarecb")
