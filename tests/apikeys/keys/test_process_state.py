"""The request path's per-process state has one home: bounded by one rule, reset in a child
after fork (a gunicorn worker must not inherit its parent's breaker or counts) and between
tests."""

import os

from apikeys.keys import process_state
from apikeys.keys.process_state import Bounded, state


def _fill():
    state.blocked["198.51.100.7"] = 1
    state.failed_keys["hash"] = 1
    state.use_recorded["key_x"] = 1.0
    state.counters.incr("rl:m:1:1")
    state.counters.saw("rl:m:1:1", 5)
    state.breaker.failed(ConnectionError("down"))


def _empty() -> bool:
    return not (
        state.blocked
        or state.failed_keys
        or state.use_recorded
        or state.counters.counts
        or state.counters.seen
        or state.counters.own
        or state.scripts
        or state.breaker.is_open
    )


def test_a_forked_child_starts_with_nothing_its_parent_learned():
    _fill()
    child = os.fork()
    if child == 0:  # the child: report by exit status only
        os._exit(0 if _empty() else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not _empty()  # the parent keeps its own


def test_reset_forgets_everything():
    _fill()
    state.reset()
    assert _empty()


def test_a_map_past_its_bound_starts_over(monkeypatch):
    monkeypatch.setattr(process_state, "MAX_ENTRIES", 3)
    addresses = Bounded()
    for n in range(3):
        addresses[f"198.51.100.{n}"] = n
    addresses["198.51.100.1"] = 9  # an existing entry: no eviction
    assert len(addresses) == 3
    addresses["198.51.100.200"] = 1
    assert addresses == {"198.51.100.200": 1}
