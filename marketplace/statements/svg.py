"""A bar chart drawn on the server as inline SVG: no JavaScript, scales to the screen.

Accessible as one image (``role="img"`` named by its ``<title>`` and ``<desc>``); the page shows
the same figures in a table beside it. Negative months (more refunded than sold) go below the
axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
TOP = 24
BOTTOM = 34  # room for the month labels
LEFT = 8
RIGHT = 8
BAR_COLOUR = "#a66f00"
NEGATIVE_COLOUR = "#b3261e"
AXIS_COLOUR = "#6b5e4a"


def bar_chart(
    points: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    description: str,
    label: Callable[[str], str],
    value: Callable[[int], str],
) -> Markup:
    """One bar per (month, amount) point; ``label`` names a month, ``value`` writes an amount."""
    n = len(points)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    head = (
        f'<svg id="{escape(chart_id)}" class="chart" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{title_id}">{escape(title)}</title>'
        f'<desc id="{desc_id}">{escape(description)}</desc>'
    )
    if n == 0:
        return Markup(head + "</svg>")  # nosec B704  # constant ids, numbers and escaped text
    plot_h = HEIGHT - TOP - BOTTOM
    high = max(0, max(v for _, v in points))
    low = min(0, min(v for _, v in points))
    span = (high - low) or 1
    zero_y = TOP + plot_h * high / span
    slot = (WIDTH - LEFT - RIGHT) / n
    bar_w = min(56.0, slot * 0.62)
    show_values = n <= 8
    parts = [head]
    for i, (month, amount) in enumerate(points):
        x = LEFT + slot * i + (slot - bar_w) / 2
        h = plot_h * abs(amount) / span
        y = zero_y - h if amount >= 0 else zero_y
        colour = BAR_COLOUR if amount >= 0 else NEGATIVE_COLOUR
        cx = x + bar_w / 2
        text = f"{label(month)}: {value(amount)}"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(text)}</title></rect>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{HEIGHT - 12}" font-size="13" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{escape(label(month))}</text>'
        )
        if show_values:
            vy = (y - 6) if amount >= 0 else min(y + h + 14, HEIGHT - BOTTOM + 10)
            parts.append(
                f'<text x="{cx:.1f}" y="{vy:.1f}" font-size="12" text-anchor="middle" '
                f'fill="{AXIS_COLOUR}">{escape(value(amount))}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704  # constant ids, numbers and escaped text
