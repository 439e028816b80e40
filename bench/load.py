"""Load generators for the HTTP benchmark: ``wrk`` when it is installed, else Python threads.

Both keep their connections alive, send the same requests, and return a ``Result``: requests
per second, the 50th and 99th percentile latencies, and how many answers were unexpected (with
``wrk``: outside 2xx and 3xx; with Python: any status but the expected one).
"""

import http.client
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    name: str
    label: str
    method: str
    path: str
    headers: dict
    body: bytes
    expect: int
    # Authorization headers taken in turn, request by request (several keys of one
    # organization); empty: ``headers`` alone.
    rotate: tuple = ()


@dataclass
class Result:
    requests: int
    per_second: float
    p50_ms: float | None
    p99_ms: float | None
    unexpected: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here (ASCII)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(base: str, endpoint: Endpoint, *, duration: float, connections: int) -> Result:
    """Run ``wrk`` against the endpoint; a Lua script sets the method, headers and body."""
    lines = [f"wrk.method = {_lua(endpoint.method)}"]
    lines += [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in endpoint.headers.items()]
    if endpoint.body:
        lines.append(f"wrk.body = {_lua(endpoint.body.decode())}")
    if endpoint.rotate:
        lines.append("local keys = {" + ", ".join(_lua(v) for v in endpoint.rotate) + "}")
        lines += [
            "local turn = 0",
            "request = function()",
            "  turn = turn % #keys + 1",
            '  wrk.headers["Authorization"] = keys[turn]',
            "  return wrk.format()",
            "end",
        ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write("\n".join(lines) + "\n")
        script.flush()
        completed = subprocess.run(
            [
                wrk_path(),
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                script.name,
                base + endpoint.path,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
    out = completed.stdout
    if completed.returncode != 0 or "Requests/sec:" not in out:
        raise RuntimeError(f"wrk failed: {completed.stderr or out}")
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", out, re.M))
    # wrk counts the answers outside 2xx and 3xx (a Lua ``response`` callback would count any
    # other status, but slows wrk down by parsing every answer for it).
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else None,
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else None,
        unexpected=int(non_2xx.group(1)) if non_2xx else 0,
    )


def run_python(
    host: str, port: int, endpoint: Endpoint, *, duration: float, connections: int
) -> Result:
    """Send requests from ``connections`` threads, one keep-alive connection each."""
    deadline = time.monotonic() + duration
    latencies: list[list[float]] = [[] for _ in range(connections)]
    unexpected = [0] * connections

    def client(slot: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        turn = slot
        try:
            while time.monotonic() < deadline:
                headers = endpoint.headers
                if endpoint.rotate:
                    turn += 1
                    headers = {
                        **headers,
                        "Authorization": endpoint.rotate[turn % len(endpoint.rotate)],
                    }
                began = time.perf_counter()
                connection.request(
                    endpoint.method,
                    endpoint.path,
                    body=endpoint.body or None,
                    headers=headers,
                )
                response = connection.getresponse()
                response.read()
                latencies[slot].append(time.perf_counter() - began)
                if response.status != endpoint.expect:
                    unexpected[slot] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
        finally:
            connection.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    every = sorted(t for slot in latencies for t in slot)
    if not every:
        raise RuntimeError(f"no request to {endpoint.path} finished")
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return Result(
        requests=len(every),
        per_second=len(every) / elapsed,
        p50_ms=statistics.median(every) * 1000,
        p99_ms=p99 * 1000,
        unexpected=sum(unexpected),
    )
