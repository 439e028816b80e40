"""A process that sends ``POST /api/v1/generate`` through Django's test client, for the
multi-process concurrency tests (``test_concurrent_processes``).

    python -m tests.billing.submitter < plan.json

The plan (JSON on stdin): ``requests``, a list of ``[bearer key, body, idempotency key or
null]``, and ``threads``. The process sets Django up on the database ``DATABASE_URL`` names,
prints ``ready``, waits for a line on stdin (so every process starts at once), sends the
requests from its threads and prints one JSON list of ``[status, error code, job id]``.
"""

import json
import os
import sys
import threading


def main() -> int:
    plan = json.loads(sys.stdin.readline())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perceptis.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    requests = [tuple(r) for r in plan["requests"]]
    outcomes = [None] * len(requests)
    threads = plan["threads"]

    def send(indexes):
        client = Client()
        try:
            for i in indexes:
                key, body, idempotency_key = requests[i]
                headers = {"Authorization": f"Bearer {key}"}
                if idempotency_key:
                    headers["Idempotency-Key"] = idempotency_key
                response = client.post(
                    "/api/v1/generate", body, content_type="application/json", headers=headers
                )
                data = response.json()
                outcomes[i] = [
                    response.status_code,
                    (data.get("error") or {}).get("code", ""),
                    data.get("job_id", ""),
                ]
        finally:
            connection.close()

    print("ready", flush=True)
    sys.stdin.readline()
    workers = [
        threading.Thread(target=send, args=(range(n, len(requests), threads),))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(outcomes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
