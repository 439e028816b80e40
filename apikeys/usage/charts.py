"""A bar chart of requests over time, laid out here and drawn as inline SVG by a template.

No JavaScript and no charting library: the page is readable with scripts off and loads
nothing from elsewhere.
"""

from datetime import datetime

WIDTH = 720
HEIGHT = 180
GAP = 1.0


def requests_chart(series: list[tuple[datetime, int, int]], *, label_format: str) -> dict:
    """Return the geometry of a bar per bucket: requests, with the errors among them on top."""
    peak = max((requests for _, requests, _ in series), default=0)
    slot = WIDTH / max(len(series), 1)
    bars = []
    for index, (start, requests, errors) in enumerate(series):
        height = HEIGHT * requests / peak if peak else 0.0
        error_height = HEIGHT * errors / peak if peak else 0.0
        bars.append(
            {
                "x": round(index * slot + GAP / 2, 2),
                "width": round(max(slot - GAP, 0.5), 2),
                "y": round(HEIGHT - height, 2),
                "height": round(height, 2),
                "error_y": round(HEIGHT - error_height, 2),
                "error_height": round(error_height, 2),
                "title": f"{start:{label_format}} UTC: {requests} requests, {errors} errors",
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "peak": peak,
        "bars": bars,
        "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
        "total": sum(requests for _, requests, _ in series),
    }
