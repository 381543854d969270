"""One PNG per world family: every player's running average reward, mean over the seeds, beside the oracle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

WINDOW = 250


def running_mean(values: Sequence[float], window: int = WINDOW) -> np.ndarray:
    """The mean of the last `window` values at every step (fewer at the start)."""
    sums = np.cumsum(np.asarray(values, dtype=float))
    windowed = sums.copy()
    windowed[window:] -= sums[:-window]
    return windowed / np.minimum(np.arange(1, len(sums) + 1), window)


def plot_family(
    family: str,
    runs: dict[str, list[list[float]]],
    oracle: Sequence[np.ndarray],
    highlight: str,
    path: Path,
    ceiling: Sequence[np.ndarray] | None = None,
    ceiling_label: str = "",
) -> None:
    """Draw the running average reward of each player (mean over seeds), the oracle's and (given) the
    ceiling's, to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for name, seeds in runs.items():
        curve = running_mean(np.mean(np.asarray(seeds), axis=0))
        ax.plot(curve, label=name, linewidth=2.0 if name == highlight else 1.0)
    best = running_mean(np.mean(np.asarray(oracle), axis=0))
    ax.plot(best, label="best possible (oracle, expected)", color="black", linestyle=":")
    if ceiling is not None:
        top = running_mean(np.mean(np.asarray(ceiling), axis=0))
        ax.plot(top, label=ceiling_label, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlabel("step (fresh actions at every step)")
    ax.set_ylabel(f"average reward over the last {WINDOW} steps")
    ax.set_ylim(0.3, 0.95)
    ax.set_title(f"{family} worlds: running average reward, mean of {len(oracle)} seeds")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
