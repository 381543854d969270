"""Synthetic worlds with fresh action sets at every step: linear, clustered, kernel and small-neural rewards.

Each step shows 5 numeric context features and 5 new actions, each with 5 numeric features; the chosen
action is clicked (reward 1) with a probability the world's hidden reward function gives it, else 0. A world
knows nothing of Vowpal Wabbit or of the service: it hands out features in Personalizer's shape and the click
for a choice. Everything (the hidden function, contexts, actions and the click dice) is drawn from the random seed
before any policy acts, so every player of a run faces the same steps and the same dice.

Families (the score s(x, a) of context x and action a, turned into a click probability by a sigmoid after
standardising it on a calibration sample, so every world spreads its probabilities alike):
- linear: s = xᵀ W a + bᵀ a, the model LinUCB and `-q CA` assume;
- clustered: contexts come from 4 clusters, each with a prototype action; s = -|a - prototype of the
  nearest cluster centre|², a nearest-neighbour rule no linear model over x ⊗ a can represent exactly;
- kernel: s = Σ wₘ exp(-|(x, a) - cₘ|² / 2σ²), a sum of 24 Gaussian bumps over the joint space;
- neural: s = a random two-layer tanh network of (x, a) with 16 hidden units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("linear", "clustered", "kernel", "neural")
CONTEXT_FEATURES = 5
ACTION_FEATURES = 5
ACTIONS = 5
SHARPNESS = 2.0  # sigmoid slope on the standardised score: click probabilities spread about 0.1..0.9
CALIBRATION = 20_000

Score = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SyntheticEpisode:
    """One seeded run: contexts (T×5), actions (T×5×5), click probabilities (T×5) and dice (T)."""

    family: str
    seed: int
    contexts: np.ndarray
    actions: np.ndarray
    probabilities: np.ndarray
    dice: np.ndarray

    @property
    def steps(self) -> int:
        """How many steps the episode has."""
        return int(self.contexts.shape[0])

    def context_features(self, step: int) -> list[dict[str, Any]]:
        """The step's context in Personalizer's shape: one object of numeric features x0..x4."""
        return [{f"x{i}": float(v) for i, v in enumerate(self.contexts[step])}]

    def action_ids(self, step: int) -> list[str]:
        """Fresh ids: no action is ever shown twice."""
        return [f"s{step}a{k}" for k in range(self.actions.shape[1])]

    def action_features(self, step: int, index: int) -> list[dict[str, Any]]:
        """One action's features in Personalizer's shape: one object of numeric features f0..f4."""
        return [{f"f{i}": float(v) for i, v in enumerate(self.actions[step, index])}]

    def reward(self, step: int, index: int) -> float:
        """1.0 if the action at `index` is clicked at this step (the same die for every player), else 0.0."""
        return 1.0 if self.dice[step] < self.probabilities[step, index] else 0.0

    def best_expected(self) -> float:
        """The mean click probability of the best action at every step: what an oracle would average."""
        return float(self.probabilities.max(axis=1).mean())

    def uniform_expected(self) -> float:
        """The mean click probability of a uniformly random choice."""
        return float(self.probabilities.mean())


def _joint(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(x, a) side by side, x broadcast over the actions."""
    x = np.broadcast_to(x, a.shape[:-1] + x.shape[-1:])
    return np.concatenate([x, a], axis=-1)


def _linear(rng: np.random.Generator) -> Score:
    weights = rng.normal(size=(CONTEXT_FEATURES, ACTION_FEATURES))
    bias = rng.normal(size=ACTION_FEATURES) * 0.5
    return lambda x, a: np.einsum("...i,ij,...j->...", x, weights, a) + a @ bias


def _clustered(rng: np.random.Generator) -> tuple[Score, np.ndarray]:
    centres = rng.normal(scale=1.5, size=(4, CONTEXT_FEATURES))
    prototypes = rng.normal(size=(4, ACTION_FEATURES))

    def score(x: np.ndarray, a: np.ndarray) -> np.ndarray:
        nearest = np.argmin(((x[..., None, :] - centres) ** 2).sum(-1), axis=-1)
        return -((a - prototypes[nearest]) ** 2).sum(-1)

    return score, centres


def _kernel(rng: np.random.Generator) -> Score:
    centres = rng.normal(size=(24, CONTEXT_FEATURES + ACTION_FEATURES))
    weights = rng.normal(size=24)
    width = 2.0 * 2.5**2

    def score(x: np.ndarray, a: np.ndarray) -> np.ndarray:
        joint = _joint(x, a)
        distance = ((joint[..., None, :] - centres) ** 2).sum(-1)
        return np.exp(-distance / width) @ weights

    return score


def _neural(rng: np.random.Generator) -> Score:
    inputs = CONTEXT_FEATURES + ACTION_FEATURES
    first = rng.normal(size=(inputs, 16)) / np.sqrt(inputs) * 1.5
    bias = rng.normal(size=16) * 0.5
    second = rng.normal(size=16) / 4.0

    def score(x: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.tanh(_joint(x, a) @ first + bias) @ second

    return score


def _contexts(family: str, rng: np.random.Generator, centres: np.ndarray | None, n: int) -> np.ndarray:
    if centres is None:
        return rng.normal(size=(n, CONTEXT_FEATURES))
    cluster = rng.integers(len(centres), size=n)
    return centres[cluster] + rng.normal(scale=0.5, size=(n, CONTEXT_FEATURES))


def episode(family: str, seed: int, steps: int) -> SyntheticEpisode:
    """Draw a world of `family` and a run of `steps` steps from `seed`; the same arguments, the same run."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
    rng = np.random.default_rng([FAMILIES.index(family), seed])
    centres = None
    if family == "linear":
        score = _linear(rng)
    elif family == "clustered":
        score, centres = _clustered(rng)
    elif family == "kernel":
        score = _kernel(rng)
    else:
        score = _neural(rng)
    sample_x = _contexts(family, rng, centres, CALIBRATION)
    sample_s = score(sample_x, rng.normal(size=(CALIBRATION, ACTION_FEATURES)))
    mean, spread = float(sample_s.mean()), float(sample_s.std()) or 1.0
    # Rounded as the features show them, so the hidden function sees exactly what the players see.
    contexts = np.round(_contexts(family, rng, centres, steps), 4)
    actions = np.round(rng.normal(size=(steps, ACTIONS, ACTION_FEATURES)), 4)
    scores = score(contexts[:, None, :], actions)
    probabilities = 1.0 / (1.0 + np.exp(-SHARPNESS * (scores - mean) / spread))
    dice = rng.random(steps)
    return SyntheticEpisode(family, seed, contexts, actions, probabilities, dice)
