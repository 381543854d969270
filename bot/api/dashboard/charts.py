"""Server-rendered SVG charts: lines with optional confidence bands, and horizontal bars. No JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
LEGEND_COLUMNS, LEGEND_ROW = 4, 16
PALETTE = (
    "#1f6feb",
    "#d1242f",
    "#1a7f37",
    "#8250df",
    "#bf8700",
    "#0a7ea4",
    "#cf222e",
    "#6e7781",
    "#953800",
    "#116329",
    "#0550ae",
    "#8c959f",
)


@dataclass
class Line:
    """One series: (x, y) points, optionally a (low, high) band per point."""

    label: str
    points: list[tuple[float, float]]
    band: list[tuple[float, float]] = field(default_factory=list)


def line_chart(title: str, lines: list[Line], y_label: str = "reward") -> Markup:
    """A time chart (x in epoch seconds) of several lines, each with its band if given."""
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points] + [v for line in lines for b in line.band for v in b]
    if not xs:
        return Markup(f'<p class="empty" data-chart="{escape(title)}">No events in this range yet.</p>')
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(1.0, max(ys))
    x1 = x1 if x1 > x0 else x0 + 1
    rows = (len(lines) + LEGEND_COLUMNS - 1) // LEGEND_COLUMNS
    height = HEIGHT + (rows - 1) * LEGEND_ROW
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(5):
        y = y0 + (y1 - y0) * tick / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#d0d7de"/>'
            f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" font-size="11">{y:.2f}</text>'
        )
    for tick in range(3):
        x = x0 + (x1 - x0) * tick / 2
        anchor = ("start", "middle", "end")[tick]
        parts.append(
            f'<text x="{sx(x):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}" font-size="11">'
            f"{_when(x)}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" font-size="11" transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for index, line in enumerate(lines):
        color = PALETTE[index % len(PALETTE)]
        if line.band and len(line.band) == len(line.points):
            upper = " ".join(
                f"{sx(x):.1f},{sy(h):.1f}" for (x, _), (_, h) in zip(line.points, line.band, strict=True)
            )
            lower = " ".join(
                f"{sx(x):.1f},{sy(lo):.1f}"
                for (x, _), (lo, _) in reversed(list(zip(line.points, line.band, strict=True)))
            )
            parts.append(
                f'<polygon class="band" points="{upper} {lower}" fill="{color}" fill-opacity="0.12"/>'
            )
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line.points)
        parts.append(
            f'<polyline class="series" data-series="{escape(line.label)}" points="{path}" fill="none" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        legend_x = LEFT + 8 + index % LEGEND_COLUMNS * 165
        legend_y = HEIGHT - 16 + index // LEGEND_COLUMNS * LEGEND_ROW
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y + 9}" font-size="11">{escape(line.label[:24])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, bars: list[tuple[str, float]]) -> Markup:
    """Horizontal bars for scores in 0..1 (feature importances)."""
    if not bars:
        return Markup(f'<p class="empty" data-chart="{escape(title)}">No scores yet.</p>')
    row, label_w, width = 22, 220, WIDTH
    height = TOP + row * len(bars) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (label, score) in enumerate(bars):
        y = TOP + index * row
        length = max(0.0, min(1.0, score)) * (width - label_w - 60)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label[:34])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length:.1f}" height="14" fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 14}" font-size="12">{score:.2f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M")
