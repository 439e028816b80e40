"""gunicorn for the HTTP benchmark: started with the production configuration in its own
process group, and stopped (TERM, then KILL) however the run ends."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class Server:
    """gunicorn in its own process group, stopped (TERM, then KILL) however the run ends."""

    def __init__(self, env: dict, workers: int, root: Path = ROOT, python: str = sys.executable):
        self.port = _free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perceptis.wsgi"],
            cwd=root,
            env={
                **os.environ,
                "WEB_CONCURRENCY": str(workers),
                **env,
                "GUNICORN_BIND": f"{HOST}:{self.port}",
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once ``/healthz`` answers 200; exit with gunicorn's output if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if send(self.port, "GET", "/healthz", {}, b"")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not start:\n{self.output()}")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 25), (signal.SIGKILL, 10)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def send(port: int, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    """Send one request to the local server; return its status and body."""
    request = urllib.request.Request(  # noqa: S310 (a local URL)
        f"http://{HOST}:{port}{path}", data=body or None, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
