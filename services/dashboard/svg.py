"""Small server-side charts as inline SVG: no JavaScript, nothing from a CDN.

Every label is escaped here, since lead data (owners, tiers, queues) reaches the charts; the
result is returned as Markup so the templates insert it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ROW = 22  # px per bar
LABEL_W = 150
BAR_W = 260
VALUE_W = 70


def _fmt(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text + unit


def bar_chart(
    bars: Sequence[tuple[str, float]], *, title: str, unit: str = "", maximum: float | None = None
) -> Markup:
    """Horizontal bars, one per (label, value); ``maximum`` fixes the scale (100 for percents)."""
    height = ROW * max(len(bars), 1) + 8
    width = LABEL_W + BAR_W + VALUE_W
    top = maximum if maximum is not None else max((v for _, v in bars), default=0)
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    if not bars:
        parts.append(f'<text x="4" y="16" class="empty">{escape("no data yet")}</text>')
    for i, (label, value) in enumerate(bars):
        y = 4 + i * ROW
        length = 0.0 if top <= 0 else max(0.0, min(value, top)) / top * BAR_W
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{LABEL_W}" y="{y + 2}" width="{length:.1f}" height="{ROW - 6}" class="bar">'
            f"<title>{escape(label)}: {escape(_fmt(value, unit))}</title></rect>"
            f'<text x="{LABEL_W + length + 4:.1f}" y="{y + 14}">{escape(_fmt(value, unit))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
