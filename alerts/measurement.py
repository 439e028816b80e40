"""What measuring a rule over its window gives: the value, whether it fires, and the words."""

from dataclasses import dataclass, field


@dataclass
class Measurement:
    value: float
    fired: bool
    message: str
    # Added to the delivered document (for example the keys that crossed the threshold).
    extra: dict = field(default_factory=dict)
