"""Serve API requests from separate processes against the test database and cache.

Each process is started with ``spawn``, sets Django up on the database the test runs on, waits
for the go signal so that all fire together, sends its requests with ``django.test.Client``,
flushes its usage buffer (as its flusher would) and reports the responses.
"""

import multiprocessing
import os


def _setup(db_name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perceptis.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = db_name
    settings.ALLOWED_HOSTS = ["*"]
    settings.APIKEYS_USAGE_FLUSH_THREAD = False
    import django

    django.setup()


def _serve(db_name, plaintext, paths, ready, go, results):
    _setup(db_name)
    from django.db import connections
    from django.test import Client

    from apikeys.usage import metering

    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    ready.put(os.getpid())
    go.wait(60)
    out = []
    for path in paths:
        response = client.get(path)
        out.append(
            (
                response.status_code,
                response.get("RateLimit-Remaining"),
                response.get("Retry-After"),
                response.json().get("error", {}).get("code") if response.status_code >= 400 else "",
            )
        )
    metering.flush()
    connections.close_all()
    results.put(out)


def serve_in_processes(
    *, db_name: str, plaintext: str, paths: list[str], processes: int, before_go=None
):
    """Send ``paths`` from each of ``processes`` processes at once; return all responses.

    Each response is ``(status, RateLimit-Remaining, Retry-After, error code)``. ``before_go``
    runs once every process is ready, just before they fire.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [
        ctx.Process(target=_serve, args=(db_name, plaintext, paths, ready, go, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            ready.get(timeout=60)
        if before_go is not None:
            before_go()
        go.set()
        responses = []
        for _ in workers:
            responses += results.get(timeout=60)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    return responses


def _serve_commands(db_name, commands, answers):
    _setup(db_name)
    from django.test import Client

    answers.put(os.getpid())
    while True:
        command = commands.get()
        if command is None:
            break
        plaintext, path = command
        response = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}").get(path)
        code = response.json().get("error", {}).get("code") if response.status_code >= 400 else ""
        answers.put((response.status_code, code))


class ClientProcess:
    """Another web process, kept running: ``get(plaintext, path)`` sends a request from it.

    Whatever it caches (key records, its own breaker and counters) stays between requests, as
    in a gunicorn worker.
    """

    def __init__(self, db_name: str):
        ctx = multiprocessing.get_context("spawn")
        self.commands, self.answers = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(
            target=_serve_commands, args=(db_name, self.commands, self.answers)
        )
        self.process.start()
        self.answers.get(timeout=60)

    def get(self, plaintext: str, path: str) -> tuple[int, str]:
        """Return the response's status and error code ('' for a success)."""
        self.commands.put((plaintext, path))
        return self.answers.get(timeout=60)

    def stop(self) -> None:
        self.commands.put(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def _serve_phases(db_name, env, plaintext, path, per_phase, moment, ready, gates, results):
    os.environ.update(env)
    _setup(db_name)
    import types

    from django.db import connections
    from django.test import Client

    from apikeys.keys import ratelimit

    # Every phase in one minute: the limiter's clock stands still.
    ratelimit.time = types.SimpleNamespace(time=lambda: moment)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    ready.put(os.getpid())
    out = []
    for gate, count in zip(gates, per_phase, strict=True):
        gate.wait(60)
        out.append([client.get(path).status_code for _ in range(count)])
        ready.put(os.getpid())
    connections.close_all()
    results.put(out)


def serve_in_phases(
    *,
    db_name: str,
    env: dict,
    plaintext: str,
    path: str,
    per_phase: list[int],
    processes: int,
    moment: float,
    between,
):
    """Send ``per_phase[i]`` requests from each process in phase i, all at the limiter time
    ``moment``; ``between(i)`` runs after phase i (before phase i + 1) while they wait.

    Return each process's status codes per phase. ``env`` is set in each process before
    Django starts (``REDIS_URL`` and the like).
    """
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    gates = [ctx.Event() for _ in per_phase]
    workers = [
        ctx.Process(
            target=_serve_phases,
            args=(db_name, env, plaintext, path, per_phase, moment, ready, gates, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        for phase, gate in enumerate(gates):
            for _ in workers:
                ready.get(timeout=60)
            if phase:
                between(phase - 1)
            gate.set()
        for _ in workers:
            ready.get(timeout=60)
        return [results.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
