"""Fuzz the running service from the OpenAPI description it serves (schemathesis, bounded).

For every operation: never a 5xx, every answer conforms to the description, and a rejected request leaves
the log exactly as it was (no event, no reward).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import store
from bot.personalizer.local.loop import LearningLoop, open_learning_loop
from bot.personalizer.local.settings import LoopSettings

KEY = "fuzz-key"
MAX_EXAMPLES = 30  # per operation: the suite stays quick; raise locally to dig deeper
SEEN: dict[str, set[int]] = {}  # operation -> status codes the fuzz reached


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LearningLoop]]:
    database = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    loop = open_learning_loop(f"sqlite:///{database}", LoopSettings(), run_trainer=False)
    try:
        with serving_in_thread(build_app(loop, KEY)) as base:
            yield base, loop
    finally:
        loop.close()


SPEC_FILE = Path(__file__).resolve().parents[2] / "bot" / "api" / "openapi.yaml"
# Loaded from the file the service serves (checked below); schemathesis' lazy fixture loader predates pytest 9.
schema = schemathesis.openapi.from_path(str(SPEC_FILE))


def log_size(loop: LearningLoop) -> tuple[int, int]:
    with loop._engine.connect() as conn:
        rewards = conn.execute(select(func.count()).select_from(store.rewards)).scalar_one()
    return store.count_events(loop._engine), int(rewards)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors_and_rejections_log_nothing(
    case: Any, fuzzed_service: tuple[str, LearningLoop]
) -> None:
    base, loop = fuzzed_service
    before = log_size(loop)
    response = case.call(base_url=base + "/personalizer/v1.0", headers={"Ocp-Apim-Subscription-Key": KEY})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    SEEN.setdefault(f"{case.method} {case.operation.path}", set()).add(response.status_code)
    if 400 <= response.status_code < 500:
        assert log_size(loop) == before, f"{case.method} {case.path} was refused but changed the log"
        assert response.json()["error"]["code"]


def test_the_fuzzed_description_is_the_served_one(fuzzed_service: tuple[str, LearningLoop]) -> None:
    base, _ = fuzzed_service
    served = requests.get(base + "/personalizer/v1.0/openapi.json", timeout=10).json()
    assert served == yaml.safe_load(SPEC_FILE.read_text())
    labels = {operation.ok().label for operation in schema.get_all_operations()}
    assert "POST /rank" in labels and "POST /events/{eventId}/reward" in labels
    assert len(labels) == 14


def test_the_fuzz_reached_both_acceptance_and_rejection() -> None:
    """Runs after the fuzz: it must not be vacuous (all refused, or all accepted)."""
    if not SEEN:
        pytest.skip("the fuzz did not run in this pytest run")
    assert {201, 400} <= SEEN["POST /rank"], SEEN["POST /rank"]
    assert 400 in SEEN["PUT /configurations/service"]
    assert 404 in SEEN["POST /events/{eventId}/reward"]
