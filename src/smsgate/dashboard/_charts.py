"""Charts as inline SVG drawn on the server: no script, no library, readable without colour
(each bar has a ``<title>``, and the page shows the same figures as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 200
LEFT, BOTTOM, TOP = 40, 24, 8


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # under the bar (a short date)
    value: float | None  # 0..1, None for no data
    title: str  # the hover text and accessible name


def rate_bars(bars: Sequence[Bar], *, caption: str, empty: str) -> Markup:
    """Vertical bars of ratios (0..1) with a 0/50/100 % grid."""
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(bars), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(caption)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(caption)}</title>",
    ]
    for pct in (0, 50, 100):
        y = TOP + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{pct}%</text>'
        )
    for i, bar in enumerate(bars):
        x = LEFT + i * step + step * 0.15
        if bar.value is not None:
            h = max(plot_h * bar.value, 1.0)
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}" class="bar"><title>{escape(bar.title)}</title></rect>'
            )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
            f'class="axis">{escape(bar.label)}</text>'
        )
    if all(bar.value is None for bar in bars):
        parts.append(
            f'<text x="{(WIDTH + LEFT) / 2:.0f}" y="{TOP + plot_h / 2:.0f}" '
            f'text-anchor="middle" class="empty">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text inside went through escape())
