"""Readable names for browsers' User-Agent strings ("Chrome 131 on macOS"), for the sessions page.

Only the names people recognize; anything else is shown as "Unknown browser" with the raw
string kept for a tooltip. Order matters: Edge and Opera also say Chrome, Chrome says Safari.
"""

import re

from django import template

register = template.Library()

_BROWSERS = [
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"^curl/(\d+)"),
]
_SYSTEMS = [
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("ChromeOS", r"CrOS"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]


def browser_name(user_agent: str) -> str:
    """Return "<browser> <major version> on <system>", or as much of it as is known."""
    user_agent = user_agent or ""
    browser = next(
        (
            f"{name} {m.group(1)}"
            for name, pattern in _BROWSERS
            if (m := re.search(pattern, user_agent))
        ),
        "Unknown browser",
    )
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), "")
    return f"{browser} on {system}" if system else browser


register.filter("browser_name", browser_name)
