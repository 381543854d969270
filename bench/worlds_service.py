"""The service as a player of the synthetic worlds: REST on loopback, driven with Microsoft's Personalizer client.

The real learning loop on a temporary SQLite file, default settings except a 1 s model update frequency, an
injected clock that advances 0.1 s per step (10 ranks per second) and `train_once()` each time it passes the
model update frequency, as the background trainer would. The ASGI app is served by the production uvicorn
stack on a free loopback port; each step is one `client.rank` and one `client.events.reward`.

With auto-optimization (isAutoOptimizationEnabled, autoOptimizationFrequency PT1H, the shortest the API
accepts, its start date one period in) the clock advances 3600 s / N per step instead, so that a period is
N steps, and a model is still published every 10 steps; the loop's evaluations run as the service's runner thread runs them, on the same clock: each
model update also calls `run_pending()`, which submits an Auto evaluation of the last period's log with
discovery on once a period, runs it, and applies its optimal policy only if its lower bound says so.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from azure.cognitiveservices.personalizer import PersonalizerClient
from azure.cognitiveservices.personalizer.models import RankableAction, RankRequest
from msrest.authentication import CognitiveServicesCredentials

from bench.worlds_synthetic import SyntheticEpisode
from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import (
    EVALUATION,
    LoopSettings,
    Series,
    estimate,
    evaluations_for,
    open_learning_loop,
)

SERVICE = "service, default settings (REST, Microsoft's client, 1 s model updates)"
KEY = "bench-worlds-key"
STEP_SECONDS = 0.1
MODEL_UPDATE_FREQUENCY = 1.0
START = 1_800_000_000.0


def default_policy() -> str:
    """The policy the service runs with its default settings."""
    return LoopSettings().policy


AUTO_FREQUENCY = 3600.0  # PT1H: the shortest autoOptimizationFrequency PUT /configurations/service accepts


def auto_label(steps: int) -> str:
    """The row name of the service with its defaults and auto-optimization every `steps` steps."""
    return f"service, default settings + auto-optimization (PT1H = {steps} steps) (REST)"


def service_label(policy: str | None, exploration: float | None) -> str:
    """The row name of the service with some settings changed from their defaults."""
    changed = []
    if policy is not None:
        changed.append(f"policy `{policy}`")
    if exploration is not None:
        changed.append(f"explorationPercentage {exploration:g}")
    return f"service, {', '.join(changed)} (REST)" if changed else SERVICE


def play_service(
    episode: SyntheticEpisode,
    workdir: str,
    policy: str | None = None,
    exploration: float | None = None,
    auto_optimization: int | None = None,
    decisions: list[str] | None = None,
) -> list[float]:
    """Play an episode through the service's REST API; the rewards, one per step.

    policy and exploration, when given, replace the defaults as PUT /configurations would;
    auto_optimization (steps) turns it on with a period of that many steps; each decision goes to `decisions`.
    """
    ticks = [0]
    step_seconds = AUTO_FREQUENCY / auto_optimization if auto_optimization else STEP_SECONDS

    def clock() -> float:
        return START + ticks[0] * step_seconds

    steps_per_update = round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS)
    database = os.path.join(workdir, f"service-{episode.family}-{episode.seed}-{uuid.uuid4().hex}.db")
    settings = LoopSettings(model_export_frequency=steps_per_update * step_seconds)
    if policy is not None:
        settings = settings.with_changes(policy=policy)
    if exploration is not None:
        settings = settings.with_changes(exploration_percentage=exploration)
    if auto_optimization:
        settings = settings.with_changes(
            auto_optimization_enabled=True,
            auto_optimization_frequency=AUTO_FREQUENCY,
            auto_optimization_start_date=START + AUTO_FREQUENCY,
        )
    loop = open_learning_loop(f"sqlite:///{database}", settings, clock=clock, run_trainer=False)
    evaluations = evaluations_for(loop, clock=clock, in_process=True) if auto_optimization else None
    rewards: list[float] = []
    try:
        with serving_in_thread(build_app(loop, KEY)) as base:
            client = PersonalizerClient(base, CognitiveServicesCredentials(KEY))
            for step in range(episode.steps):
                ids = episode.action_ids(step)
                actions = [
                    RankableAction(id=action_id, features=episode.action_features(step, index))
                    for index, action_id in enumerate(ids)
                ]
                event_id = f"{episode.family}-{episode.seed}-{step}"
                request = RankRequest(
                    actions=actions, context_features=episode.context_features(step), event_id=event_id
                )
                chosen = ids.index(client.rank(rank_request=request).reward_action_id)
                reward = episode.reward(step, chosen)
                client.events.reward(event_id=event_id, value=reward)
                rewards.append(reward)
                ticks[0] += 1
                if ticks[0] % steps_per_update == 0:
                    loop.train_once()
                    if evaluations is not None and evaluations.run_pending() and decisions is not None:
                        decisions.append(_decision(evaluations.list_jobs(EVALUATION)[0].result, step + 1))
    finally:
        loop.close()
    return rewards


def _decision(result: dict[str, Any] | None, step: int) -> str:
    """One auto-optimization's outcome in a line: where, applied or kept and why, the best candidate."""
    decision = (result or {}).get("decision")
    if result is None or not isinstance(decision, dict):
        return f"step {step}: the evaluation did not succeed"
    line = f"step {step}: {decision['reason']}"
    candidates = [p for p in result["policies"] if p["source"] == "OfflineExperimentation"]
    if candidates:
        scored = [(estimate(Series.from_dict(p["series"]).total), p) for p in candidates]
        e, best = max(scored, key=lambda pair: pair[0].expected_reward or 0.0)
        line += f"; best `{best['arguments']}` {e.expected_reward:.3f} [{e.low:.3f}, {e.high:.3f}]"
    return line + (f" -> applied `{decision['to']}`" if decision["applied"] else "")
