"""Off-policy estimates from logged events: IPS with a 95% Gaussian interval, from vw-estimators.

For each logged event the evaluated policy's probability of the logged action (p_pred), the logging
probability (p_log) and the reward give the importance-weighted reward w·r with w = p_pred / p_log.
vw-estimators (Vowpal Wabbit's estimator library) sums them: `ips.Estimator` for the expected reward,
`gaussian.Interval` for its 95% confidence interval (normal approximation of the weighted rewards'
variance, as Personalizer's own summaries carried: numerator, denominator, sum of squares), and
`snips.Estimator` for the self-normalised estimate shown beside it in v1.0's summaries.
Sums are kept per time bucket, so that the time series (expanding or rolling) are sums of buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from estimators.bandits import gaussian, ips, snips

ALPHA = 0.05  # 95% intervals, as Personalizer's


@dataclass
class Sums:
    """The sufficient statistics of one policy over some events."""

    count: int = 0
    weighted_reward: float = 0.0
    weighted_reward_sq: float = 0.0
    weight: float = 0.0
    nonzero: int = 0

    def add(self, p_log: float, reward: float, p_pred: float) -> None:
        """Add one logged event."""
        w = p_pred / p_log
        self.count += 1
        self.weighted_reward += reward * w
        self.weighted_reward_sq += (reward * w) ** 2
        self.weight += w
        self.nonzero += p_pred > 0

    def __iadd__(self, other: Sums) -> Sums:
        self.count += other.count
        self.weighted_reward += other.weighted_reward
        self.weighted_reward_sq += other.weighted_reward_sq
        self.weight += other.weight
        self.nonzero += other.nonzero
        return self

    def to_list(self) -> list[float]:
        """Compact JSON form."""
        return [self.count, self.weighted_reward, self.weighted_reward_sq, self.weight, self.nonzero]

    @classmethod
    def from_list(cls, data: list[float]) -> Sums:
        """From to_list()'s form."""
        return cls(int(data[0]), float(data[1]), float(data[2]), float(data[3]), int(data[4]))


@dataclass(frozen=True)
class Estimate:
    """An expected reward with its 95% confidence interval (None without events)."""

    expected_reward: float | None
    low: float | None
    high: float | None
    snips: float | None
    count: int


def estimate(sums: Sums) -> Estimate:
    """IPS and its Gaussian 95% interval through vw-estimators, from the sums."""
    point = ips.Estimator()
    point.examples_count, point.weighted_reward = sums.count, sums.weighted_reward
    interval = gaussian.Interval()
    interval.examples_count = sums.count
    interval.weighted_reward = sums.weighted_reward
    interval.weighted_reward_sq = sums.weighted_reward_sq
    normalised = snips.Estimator()
    normalised.weighted_examples_count, normalised.weighted_reward = sums.weight, sums.weighted_reward
    value = _float(point.get())
    low, high = (_float(bound) for bound in interval.get(ALPHA))
    if value is not None and low is None:  # one event: no variance yet, a point interval
        low = high = value
    return Estimate(value, low, high, _float(normalised.get()), sums.count)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)  # vw-estimators answers numpy floats


@dataclass
class Series:
    """A policy's sums per time bucket (bucket start, epoch seconds) and in total."""

    bucket_seconds: int
    buckets: dict[int, Sums] = field(default_factory=dict)
    total: Sums = field(default_factory=Sums)

    def add(self, at: float, p_log: float, reward: float, p_pred: float) -> None:
        """Add one event ranked at `at`."""
        start = int(at // self.bucket_seconds) * self.bucket_seconds
        self.buckets.setdefault(start, Sums()).add(p_log, reward, p_pred)
        self.total.add(p_log, reward, p_pred)

    def points(self, interval_seconds: int, rolling: bool = False) -> list[tuple[int, Estimate]]:
        """The estimate at the end of each interval that has events: since the start, or within it."""
        width = max(self.bucket_seconds, interval_seconds // self.bucket_seconds * self.bucket_seconds)
        grouped: dict[int, Sums] = {}
        for start, sums in sorted(self.buckets.items()):
            grouped.setdefault(start // width * width, Sums()).__iadd__(sums)
        running = Sums()
        out = []
        for start, sums in sorted(grouped.items()):
            if rolling:
                out.append((start, estimate(sums)))
            else:
                running += sums
                out.append((start, estimate(running)))
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON form, stored with the evaluation."""
        return {
            "bucket": self.bucket_seconds,
            "buckets": {str(k): v.to_list() for k, v in self.buckets.items()},
            "total": self.total.to_list(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Series:
        """From to_dict()'s form."""
        buckets = data["buckets"]
        total = data["total"]
        assert isinstance(buckets, dict) and isinstance(total, list)
        return cls(
            int(data["bucket"]),  # type: ignore[call-overload]
            {int(k): Sums.from_list(v) for k, v in buckets.items()},
            Sums.from_list(total),
        )
