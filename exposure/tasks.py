"""The worker's side of public revocation requests."""

from exposure.services import exposed_hashes_revoke


def revoke_exposed(hashes: list[list[str]], ip: str | None = None) -> int:
    """Revoke the keys named by ``[hash, pepper id]`` pairs; return how many were revoked."""
    return exposed_hashes_revoke(hashes=hashes, ip=ip)
