"""The client's IP address, as far as this deployment can trust it."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """Return the client IP: ``REMOTE_ADDR``, or the address ``TRUSTED_PROXY_COUNT`` proxies saw.

    Only the rightmost entries of ``X-Forwarded-For`` were added by our own proxies; anything to
    their left was sent by the client and can be forged, so it is never trusted.
    """
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            p.strip() for p in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
        ]
        if len(forwarded) >= proxies:
            remote = forwarded[-proxies]
    if remote is None:
        return None
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None
