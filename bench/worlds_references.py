"""The references the synthetic worlds are played by beside the service: a shared LinUCB and raw Vowpal Wabbit.

LinUCB (Li et al. 2010, the shared-parameter form): one ridge regression over φ(x, a) = (a, x ⊗ a), the
features `-q CA` gives VW, choosing argmax θᵀφ + α·√(φᵀA⁻¹φ) with A⁻¹ kept by Sherman–Morrison updates.
Library LinUCBs (mabwiser, contextualbandits) keep one model per arm id, which cannot learn when every step
brings new actions, so these few numpy lines are the reference. Raw VW plays the same numeric features
(context in namespace C, actions in A, no action id since no action is seen twice), predicting then learning
after every step as VW's tutorial does, the action drawn from its distribution with a seeded generator.
"""

from __future__ import annotations

import random

import numpy as np
import vowpalwabbit

from bench.worlds_synthetic import SyntheticEpisode

VW_REFERENCES = {
    "VW epsilon-greedy `--epsilon 0.05 -q CA`": "--cb_explore_adf -q CA --epsilon 0.05",
    "VW squarecb `--squarecb -q CA`": "--cb_explore_adf -q CA --squarecb",
    "VW cover `--cover 3 -q CA`": "--cb_explore_adf -q CA --cover 3",
    "VW bagging `--bag 5 -q CA`": "--cb_explore_adf -q CA --bag 5",
}
LINUCB_ALPHA = 1.0
LINUCB = f"LinUCB (shared, φ = a, x⊗a; α = {LINUCB_ALPHA:g})"


def shared_line(episode: SyntheticEpisode, step: int) -> str:
    """The step's context as VW's shared line."""
    return "shared |C " + " ".join(f"x{i}:{v!r}" for i, v in enumerate(episode.contexts[step].tolist()))


def action_lines(episode: SyntheticEpisode, step: int) -> list[str]:
    """The step's actions as VW lines, numeric features only."""
    return [
        "|A " + " ".join(f"f{i}:{v!r}" for i, v in enumerate(row)) for row in episode.actions[step].tolist()
    ]


def draw(pmf: list[float], rng: random.Random) -> int:
    """An index drawn from a distribution with the given generator."""
    point = rng.random() * sum(pmf)
    total = 0.0
    for index, p in enumerate(pmf):
        total += p
        if point < total:
            return index
    return len(pmf) - 1


def play_vw(episode: SyntheticEpisode, args: str) -> list[float]:
    """Raw VW with `args`: predict, draw, learn the click as cost -reward with its probability, every step."""
    rng = random.Random(1_000_003 * episode.seed + 17)
    workspace = vowpalwabbit.Workspace(args + " --quiet")
    rewards = []
    try:
        for step in range(episode.steps):
            shared, lines = shared_line(episode, step), action_lines(episode, step)
            pmf = list(workspace.predict([shared, *lines]))
            chosen = draw(pmf, rng)
            reward = episode.reward(step, chosen)
            rewards.append(reward)
            lines[chosen] = f"0:{-reward}:{pmf[chosen]} {lines[chosen]}"
            workspace.learn([shared, *lines])
    finally:
        workspace.finish()
    return rewards


def play_linucb(episode: SyntheticEpisode, alpha: float = LINUCB_ALPHA, ridge: float = 1.0) -> list[float]:
    """Shared LinUCB over φ(x, a) = (a, x ⊗ a), learning after every step."""
    dims = episode.actions.shape[2] * (1 + episode.contexts.shape[1])
    inverse = np.eye(dims) / ridge
    targets = np.zeros(dims)
    rewards = []
    for step in range(episode.steps):
        x, actions = episode.contexts[step], episode.actions[step]
        phi = np.concatenate([actions, (x[None, :, None] * actions[:, None, :]).reshape(len(actions), -1)], 1)
        theta = inverse @ targets
        width = np.sqrt(np.einsum("ki,ij,kj->k", phi, inverse, phi))
        chosen = int(np.argmax(phi @ theta + alpha * width))
        reward = episode.reward(step, chosen)
        rewards.append(reward)
        v = phi[chosen]
        iv = inverse @ v
        inverse -= np.outer(iv, iv) / (1.0 + v @ iv)
        targets += reward * v
    return rewards


def play_uniform(episode: SyntheticEpisode) -> list[float]:
    """A uniformly random choice with the same seeded generator the VW players draw with."""
    rng = random.Random(1_000_003 * episode.seed + 17)
    return [episode.reward(step, rng.randrange(episode.actions.shape[1])) for step in range(episode.steps)]
