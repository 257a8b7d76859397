"""Horizontal bar charts as plain geometry, drawn as inline SVG by the report template.

No chart library and nothing fetched: the report must open offline and under a CSP that
allows no external resource. The geometry is computed here (pure, testable); the template only
writes the numbers into ``<rect>``/``<text>`` elements, with jinja2 escaping every label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SEVERITY_COLOURS = {
    "high": "#c0392b",
    "medium": "#e67e22",
    "low": "#d4ac0d",
    "info": "#7f8c8d",
}
REGION_COLOURS = {
    "mainland": "#c0392b",
    "hongkong": "#8e44ad",
    "macau": "#9b59b6",
    "taiwan": "#2980b9",
    "abroad": "#27ae60",
    "mixed": "#e67e22",
    "unknown": "#95a5a6",
}
DEFAULT_COLOUR = "#34495e"

LABEL_WIDTH = 190  # px of the label column
BAR_WIDTH = 320  # px of the longest bar
VALUE_WIDTH = 110  # px for "12,345 (99.9%)"
ROW_HEIGHT = 22
BAR_HEIGHT = 16
MAX_LABEL = 28  # characters of a label before it is cut (the full text is in <title>)


@dataclass(frozen=True)
class BarItem:
    """One input bar: what it says and what clicking it filters (``region:mainland``)."""

    label: str
    value: int
    colour: str = DEFAULT_COLOUR
    tooltip: str = ""
    filter: str = ""  # "<field>:<value>" the report script applies on click, or ""


@dataclass(frozen=True)
class Bar:
    label: str  # shown (cut to MAX_LABEL)
    full_label: str
    value: int
    value_text: str
    colour: str
    tooltip: str
    filter: str
    y: float  # top of the row
    bar_y: float  # top of the bar
    width: float  # bar length in px (at least 1 for a non-zero value)
    text_y: float  # baseline of the label and value texts


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_x: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT
    total: int = 0

    @property
    def empty(self) -> bool:
        return not self.bars


def _cut(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bar_chart(
    chart_id: str,
    title: str,
    items: Sequence[BarItem],
    *,
    total: int | None = None,
    limit: int = 40,
) -> BarChart:
    """Bars scaled to the largest value; ``total`` adds a percentage to each value text.

    Only the first ``limit`` items are drawn (the caller orders them); a last "N more" bar
    would misstate the scale, so the cut is said in the title instead.
    """
    shown = list(items[:limit])
    if len(items) > limit:
        title = f"{title} (top {limit} of {len(items)})"
    peak = max((item.value for item in shown), default=0)
    bars = []
    for index, item in enumerate(shown):
        width = BAR_WIDTH * item.value / peak if peak else 0.0
        if item.value and width < 1:
            width = 1.0
        value_text = f"{item.value:,}"
        if total:
            value_text += f" ({100 * item.value / total:.1f}%)"
        y = index * ROW_HEIGHT
        bars.append(
            Bar(
                label=_cut(item.label),
                full_label=item.label,
                value=item.value,
                value_text=value_text,
                colour=item.colour,
                tooltip=item.tooltip or f"{item.label}: {value_text}",
                filter=item.filter,
                y=float(y),
                bar_y=y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                width=round(width, 1),
                text_y=y + ROW_HEIGHT / 2 + 4.0,
            )
        )
    return BarChart(
        id=chart_id,
        title=title,
        bars=tuple(bars),
        width=LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
        height=max(len(bars), 1) * ROW_HEIGHT,
        total=total or 0,
    )
