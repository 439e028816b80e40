"""Helpers of the exposed-key tests: a stand-in for GitHub's signing key, its key document, a
report item, and a way to run what the public endpoint queued."""

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class Signer:
    """A P-256 key pair standing in for GitHub's secret-scanning key."""

    def __init__(self, identifier: str):
        self.identifier = identifier
        self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def key_document(*signers) -> dict:
    return {
        "public_keys": [
            {"key_identifier": s.identifier, "key": s.pem, "is_current": True} for s in signers
        ]
    }


def found(token: str, url: str = "https://github.com/acme/app/blob/abc/config.py") -> dict:
    return {"token": token, "type": "perceptis_api_key", "url": url, "source": "content"}


def run_queued() -> int:
    """Run, in this process, the exposure tasks queued on the ORM broker; return how many."""
    from django.utils.module_loading import import_string
    from django_q.models import OrmQ

    ran = 0
    for row in OrmQ.objects.order_by("id"):
        task = row.task
        if not str(task.get("func", "")).startswith("exposure."):
            continue
        import_string(task["func"])(*task["args"], **task["kwargs"])
        row.delete()
        ran += 1
    return ran
