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


# Colours of a stacked chart's series (CSS classes ``series-0`` ...); more series than this are
# drawn together as the last one, "Other".
STACK_COLOURS = 6


def stacked_chart(
    starts: list[datetime],
    series: list[tuple[str, list[int]]],
    *,
    label_format: str,
    noun: str,
    step_label: str,
) -> dict:
    """Return the geometry of a stacked bar per bucket: ``series`` is ``[(label, values)]``,
    one value per bucket of ``starts``, drawn bottom up in the given order (the largest first,
    as the caller sorts them); series past ``STACK_COLOURS - 1`` are summed into "Other"."""
    if len(series) > STACK_COLOURS:
        kept = series[: STACK_COLOURS - 1]
        others = [values for _, values in series[STACK_COLOURS - 1 :]]
        rest = [sum(column) for column in zip(*others, strict=True)]
        series = [*kept, ("Other", rest)]
    totals = [sum(values[i] for _, values in series) for i in range(len(starts))]
    peak = max(totals, default=0)
    top = nice_ceiling(peak)
    slot = WIDTH / max(len(starts), 1)
    bars = []
    for index, start in enumerate(starts):
        y = HEIGHT
        segments = []
        for number, (label, values) in enumerate(series):
            value = values[index]
            if value <= 0:
                continue
            height = HEIGHT * value / top
            y -= height
            segments.append(
                {
                    "y": round(y, 2),
                    "height": round(height, 2),
                    "series": number,
                    "title": f"{start:{label_format}} UTC: {label}, {value:,} {noun}",
                }
            )
        bars.append(
            {
                "x": round(index * slot + GAP / 2, 2),
                "width": round(max(slot - GAP, 0.5), 2),
                "segments": segments,
                "title": f"{start:{label_format}} UTC: {totals[index]:,} {noun}",
            }
        )
    picks = sorted({0, len(starts) // 2, len(starts) - 1}) if starts else []
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "peak": peak,
        "bars": bars,
        "legend": [{"label": label, "series": n} for n, (label, _) in enumerate(series)],
        "y_ticks": [_number(top), _number(top / 2), "0"],
        "x_ticks": [f"{starts[i]:{label_format}}" for i in picks],
        "y_title": f"{noun.capitalize()} {step_label}",
        "total": sum(totals),
        "noun": noun,
    }
