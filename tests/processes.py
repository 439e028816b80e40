"""Helpers for tests that run the real programs: ``manage.py`` commands, qcluster, gunicorn.

Every process starts in its own session so that it and its children (qcluster's workers) die
together; every wait is bounded.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python manage.py ARGS`` and return its result (text stdout/stderr, returncode)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sqlite_env(path: Path) -> dict:
    """Return the environment for programs on their own SQLite file and local-memory cache."""
    return {"DATABASE_URL": f"sqlite:///{Path(path).resolve()}", "REDIS_URL": ""}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Program:
    """A long-running subprocess (qcluster, gunicorn), killed with its children on exit."""

    def __init__(self, args: list[str], *, env: dict):
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in kill)
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """Kill the process group at once (SIGKILL: a crash, not a shutdown)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self, tail: int | None = 3000) -> str:
        """Return the last ``tail`` characters the program wrote (all of it with None)."""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return text[-tail:] if tail else text

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self._log.close()


def qcluster(env: dict) -> Program:
    return Program([sys.executable, "manage.py", "qcluster"], env=env)


def wait_for(predicate, *, timeout: float, what: str, program: Program | None = None):
    """Poll ``predicate`` until it returns a true value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    detail = f"\nprogram output:\n{program.output()}" if program else ""
    raise AssertionError(f"timed out waiting for {what}{detail}")
