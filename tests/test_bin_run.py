"""``bin/run``, the one-machine default: Ctrl-C stops the server and both workers within 5 s
and loses no request-log rows; the demo key it prints works with the README's key-management
and usage examples."""

import os
import re
import signal
import socket
import sqlite3
import time

from tests.processes import ROOT, Program, free_port, sqlite_env, wait_for
from tests.test_readme_quickstart import http, up


def test_ctrl_c_stops_everything_within_5_seconds_and_keeps_the_request_log(tmp_path):
    db_path = tmp_path / "run.sqlite3"
    port = free_port()
    env = {
        **sqlite_env(db_path),
        "PORT": str(port),
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_LEVEL": "WARNING",
        # Nothing is written before exit: the rows below come from the exit-time flush.
        "APIKEYS_USAGE_FLUSH_SECONDS": "3600",
    }
    base = f"http://127.0.0.1:{port}"
    with Program([str(ROOT / "bin" / "run")], env=env) as run:
        wait_for(lambda: up(f"{base}/healthz"), timeout=180, what="bin/run", program=run)
        key = re.search(r"sk-live-per-[A-Za-z0-9_-]+", run.output()).group()
        for path in ("/api/v1/keys", "/api/v1/usage", "/api/v1/keys?type=live"):
            status, _, body = http("GET", base + path, key=key)
            assert status == 200, body  # the demo key holds keys:manage and usage:read
        assert http("GET", base + "/api/v1/usage", key="sk-live-per-wrong")[0] == 401

        started = time.monotonic()
        os.killpg(run.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        run.process.wait(timeout=10)
        stopped = time.monotonic() - started
        output = run.output()

    assert stopped < 5, output
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web server still listens"
    with sqlite3.connect(db_path) as db:
        statuses = [s for (s,) in db.execute("SELECT status FROM apikeys_requestlog")]
    assert statuses.count(200) == 3, (statuses, output)
    assert 401 in statuses
    assert "Traceback" not in output, output
