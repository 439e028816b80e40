"""A real Redis Cluster for tests: three masters from ``redis-server`` processes on free ports.

Each node runs with ``cluster-require-full-coverage no``, as a deployment should (README, "Redis
on the request path"): when a master is gone, the others keep serving their slots. Nodes are
stopped by their pid, never by name.
"""

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.processes import wait_for

MASTERS = 3


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 >= 65536:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _ask(port: int, *command: str, timeout: float = 5) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.stdout


def available() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "needs redis-server and redis-cli (apt install redis-server)"
    return None


class RedisClusterProcesses:
    """Three masters, slots spread by ``redis-cli --cluster create``; ``close()`` stops them."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory()
        self.servers: dict[int, subprocess.Popen] = {}
        try:
            for _ in range(MASTERS):
                self._start(_free_cluster_port())
            for port in self.servers:
                wait_for(lambda p=port: _ask(p, "PING").strip() == "PONG", timeout=10, what="node")
            created = subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{port}" for port in self.servers),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if created.returncode != 0:
                raise RuntimeError(f"cluster create failed: {created.stdout}{created.stderr}")
            wait_for(self._ok, timeout=30, what="cluster_state:ok")
        except BaseException:
            self.close()
            raise

    def _start(self, port: int) -> None:
        folder = Path(self._dir.name) / str(port)
        folder.mkdir(exist_ok=True)  # kept on restart: its nodes.conf holds the node's slots
        self.servers[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(folder / "nodes.conf"),
                "--cluster-node-timeout",
                "2000",
                "--cluster-require-full-coverage",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _ok(self) -> bool:
        return all("cluster_state:ok" in _ask(port, "CLUSTER", "INFO") for port in self.alive)

    @property
    def ports(self) -> list[int]:
        return list(self.servers)

    @property
    def alive(self) -> list[int]:
        return [port for port, server in self.servers.items() if server.poll() is None]

    @property
    def url(self) -> str:
        """The URL of one node, as ``REDIS_URL`` names it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def flush(self) -> None:
        for port in self.alive:
            _ask(port, "FLUSHALL")

    def node_of(self, full_key: str) -> int:
        """The port of the master that serves ``full_key``'s slot (asked of the cluster)."""
        slot = int(_ask(self.alive[0], "CLUSTER", "KEYSLOT", full_key))
        for line in _ask(self.alive[0], "CLUSTER", "NODES").splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for part in fields[8:]:
                first, _, last = part.partition("-")
                if part[0].isdigit() and int(first) <= slot <= int(last or first):
                    return port
        raise LookupError(f"no node serves slot {slot}")

    def restart(self, port: int) -> None:
        """Start the stopped node on ``port`` again (empty: no persistence), with its cluster
        configuration: it serves its slots again."""
        self._start(port)
        wait_for(
            lambda: "cluster_state:ok" in _ask(port, "CLUSTER", "INFO"),
            timeout=30,
            what="the node back in the cluster",
        )

    def hang(self, port: int) -> None:
        """Freeze the node on ``port`` (SIGSTOP by its pid): it accepts and never answers."""
        self.servers[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.servers[port].send_signal(signal.SIGCONT)

    def stop(self, port: int) -> None:
        """Stop the node on ``port`` by its pid, and wait until it is gone."""
        server = self.servers[port]
        server.terminate()
        server.wait(timeout=10)

    def close(self) -> None:
        for server in self.servers.values():
            if server.poll() is None:
                server.send_signal(signal.SIGCONT)  # a frozen node cannot stop
                server.terminate()
        for server in self.servers.values():
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        self._dir.cleanup()


def wait_until_failing(cluster: RedisClusterProcesses, port: int, timeout: float = 20) -> None:
    """Wait until the other nodes agree that ``port``'s node failed (``fail`` in their view)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [_ask(alive, "CLUSTER", "NODES") for alive in cluster.alive]
        if all(
            any(
                f":{port}@" in line and "fail" in line.split()[2].split(",")
                for line in view.splitlines()
            )
            for view in views
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the cluster did not mark {port} failed")
