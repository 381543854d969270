"""The service as a player of the synthetic worlds: REST on loopback, driven with Microsoft's Personalizer client.

The real learning loop on a temporary SQLite file, default settings except a 1 s model update frequency, an
injected clock that advances 0.1 s per step (10 ranks per second) and `train_once()` each time it passes the
model update frequency, as the background trainer would. The ASGI app is served by the production uvicorn
stack on a free loopback port; each step is one `client.rank` and one `client.events.reward`.
"""

from __future__ import annotations

import os
import uuid

from azure.cognitiveservices.personalizer import PersonalizerClient
from azure.cognitiveservices.personalizer.models import RankableAction, RankRequest
from msrest.authentication import CognitiveServicesCredentials

from bench.worlds_synthetic import SyntheticEpisode
from bot.api.asgi import build_app
from bot.api.server import serving_in_thread
from bot.personalizer.local import LoopSettings, open_learning_loop

SERVICE = "service, default settings (REST, Microsoft's client, 1 s model updates)"
KEY = "bench-worlds-key"
STEP_SECONDS = 0.1
MODEL_UPDATE_FREQUENCY = 1.0
START = 1_800_000_000.0


def default_policy() -> str:
    """The policy the service runs with its default settings."""
    return LoopSettings().policy


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
) -> list[float]:
    """Play an episode through the service's REST API; the rewards, one per step.

    policy and exploration, when given, replace the defaults as PUT /configurations would.
    """
    ticks = [0]

    def clock() -> float:
        return START + ticks[0] * STEP_SECONDS

    steps_per_update = round(MODEL_UPDATE_FREQUENCY / STEP_SECONDS)
    database = os.path.join(workdir, f"service-{episode.family}-{episode.seed}-{uuid.uuid4().hex}.db")
    settings = LoopSettings(model_export_frequency=MODEL_UPDATE_FREQUENCY)
    if policy is not None:
        settings = settings.with_changes(policy=policy)
    if exploration is not None:
        settings = settings.with_changes(exploration_percentage=exploration)
    loop = open_learning_loop(f"sqlite:///{database}", settings, clock=clock, run_trainer=False)
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
    finally:
        loop.close()
    return rewards
