"""Measures of alert metrics that a higher app computes (spend needs jobs).

Dependencies run one way, so the alert evaluation cannot import ``jobs``; instead the app that
owns the figures registers a function for its metrics in its ``AppConfig.ready()``. A metric
with no registered measure is an error for that rule, logged by the evaluation (it never fires
on a guess).
"""

from collections.abc import Callable

_MEASURES: dict[str, Callable] = {}


def measure_register(metric: str, function: Callable) -> None:
    """Register ``function(rule, *, now, window) -> Measurement`` for ``metric``."""
    _MEASURES[metric] = function


def registered_measure(metric: str) -> Callable | None:
    return _MEASURES.get(metric)
