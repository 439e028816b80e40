"""Bar charts over time, laid out here and drawn as inline SVG by a template.

No JavaScript and no charting library: the page is readable with scripts off and loads
nothing from elsewhere. The value axis runs from 0 to a round number at or above the busiest
bar, with three evenly spaced ticks; the time axis names the first, middle and last buckets.
The labels are HTML beside the SVG (it stretches to the width; text in it would too).
"""

import math
from datetime import datetime

WIDTH = 720
HEIGHT = 180
GAP = 1.0


def nice_ceiling(value: float) -> int:
    """Return the smallest round number at or above ``value`` (and at least 2) whose half is a
    whole number too: 2, 4, 5 or 10 times a power of ten, or 2.5 times one from 100 on.

    The counts charted are whole requests and credits, so no tick may read 0.5 or 12.5.
    """
    value = max(value, 2)
    power = 10 ** math.floor(math.log10(value))
    steps = (1, 2, 2.5, 4, 5, 10) if power >= 100 else (1, 2, 4, 5, 10)
    return next(
        int(step * power) for step in steps if step * power >= value and step * power % 2 == 0
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def bar_chart(
    series: list[tuple[datetime, int, int]],
    *,
    label_format: str,
    noun: str,
    step_label: str,
    error_noun: str = "errors",
) -> dict:
    """Return the geometry of a bar per bucket (with its errors on top, if any), the ticks of
    both axes and the titles; ``series`` is ``[(bucket_start, value, errors)]``."""
    peak = max((value for _, value, _ in series), default=0)
    top = nice_ceiling(peak)
    slot = WIDTH / max(len(series), 1)
    bars = []
    for index, (start, value, errors) in enumerate(series):
        height = HEIGHT * value / top
        error_height = HEIGHT * errors / top
        title = f"{start:{label_format}} UTC: {value} {noun}"
        if errors:
            title += f", {errors} {error_noun}"
        bars.append(
            {
                "x": round(index * slot + GAP / 2, 2),
                "width": round(max(slot - GAP, 0.5), 2),
                "y": round(HEIGHT - height, 2),
                "height": round(height, 2),
                "error_y": round(HEIGHT - error_height, 2),
                "error_height": round(error_height, 2),
                "title": title,
            }
        )
    picks = sorted({0, len(series) // 2, len(series) - 1}) if series else []
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "peak": peak,
        "bars": bars,
        "y_ticks": [_number(top), _number(top / 2), "0"],
        "x_ticks": [f"{series[i][0]:{label_format}}" for i in picks],
        "y_title": f"{noun.capitalize()} {step_label}",
        "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
        "total": sum(value for _, value, _ in series),
        "errors": sum(errors for _, _, errors in series),
        "noun": noun,
    }


def requests_chart(
    series: list[tuple[datetime, int, int]], *, label_format: str, step_label: str = "per bar"
) -> dict:
    """Return the chart of requests (and the errors among them) over time."""
    return bar_chart(series, label_format=label_format, noun="requests", step_label=step_label)
