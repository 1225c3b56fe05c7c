"""Inline SVG charts for the dashboard: generated here, so the report needs no script, no
font download and no CDN — every byte is in the HTML file."""
from __future__ import annotations

import math
from html import escape
from typing import Callable, Sequence

PALETTE = ("#2563a8", "#d9822b", "#3d9970", "#b03a48", "#7b5ea7")
AXIS = "#8a94a6"
FONT = "font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Zen Hei','Microsoft YaHei',sans-serif"


def _nice_ceiling(value: float, ticks: int = 4) -> float:
    """A round axis maximum at or above ``value`` whose ``ticks`` steps are round numbers too."""
    if value <= 0:
        return float(ticks)
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * magnitude >= raw)
    return step * ticks


def bar_chart(points: Sequence[tuple[str, float]], *, title: str, width: int = 960, height: int = 240,
              color: str = PALETTE[0], label_every: int = 1, fmt: Callable[[float], str] = lambda v: f"{v:g}",
              chart_id: str = "") -> str:
    """Vertical bars with value labels on the axis every ``label_every`` bars."""
    left, right, top, bottom = 44, 12, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = _nice_ceiling(max((v for _, v in points), default=0))
    n = max(1, len(points))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.72)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" style="{FONT};font-size:11px">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#1f2937">{escape(title)}</text>']
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{escape(fmt(ymax * k / 4))}</text>')
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / ymax) if ymax else 0
        x = left + i * slot + (slot - bar_w) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                     f'fill="{color}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                         f'fill="{AXIS}">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(rows: Sequence[tuple[str, Sequence[float | None]]], *, title: str, series: Sequence[str],
               width: int = 960, max_value: float = 1.0, fmt: Callable[[float], str] = lambda v: f"{v:.0%}",
               chart_id: str = "") -> str:
    """Horizontal grouped bars: one group per row label, one bar per series (None = no data)."""
    left, right, top = 230, 60, 44
    bar_h, gap = 12, 10
    group_h = len(series) * bar_h + gap
    height = top + len(rows) * group_h + 12
    plot_w = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" style="{FONT};font-size:11px">',
             f'<title>{escape(title)}</title>',
             f'<text x="8" y="16" font-size="13" font-weight="600" fill="#1f2937">{escape(title)}</text>']
    x = left
    for s, name in enumerate(series):   # legend
        color = PALETTE[s % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="33" fill="#374151">{escape(name)}</text>')
        x += 14 + 13 * len(name) + 24
    for r, (label, values) in enumerate(rows):
        y0 = top + r * group_h
        parts.append(f'<text x="{left - 8}" y="{y0 + len(series) * bar_h / 2 + 4:.1f}" text-anchor="end" '
                     f'fill="#374151">{escape(label)}</text>')
        for s, value in enumerate(values):
            y = y0 + s * bar_h
            color = PALETTE[s % len(PALETTE)]
            if value is None:
                parts.append(f'<text x="{left + 4}" y="{y + 10}" fill="{AXIS}">—</text>')
                continue
            w = plot_w * min(1.0, value / max_value) if max_value else 0
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}">'
                         f'<title>{escape(label)} · {escape(series[s])}: {escape(fmt(value))}</title></rect>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 9}" fill="#374151">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)
