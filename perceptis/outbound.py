"""The one HTTP client for requests to URLs customers give us: alert webhooks, Slack, job webhooks.

A customer's URL must not be turned on us, so every request:

- resolves the host name once, refuses it unless every address it resolves to is a public
  unicast address, and connects to exactly the address it checked (no second resolution a
  rebinding DNS server could answer differently). Refused: private, loopback, link-local,
  shared (100.64/10), reserved and multicast addresses, and the IPv6 forms that wrap an IPv4
  address or tunnel to one (IPv4-mapped, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4
  ``2002::/16``, Teredo ``2001::/32``), and IPv6 outside global unicast (``2000::/3``).
  ``OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` (or its older name ``APIKEYS_ALERT_ALLOW_PRIVATE_URLS``)
  lifts this for development;
- goes only to ``OUTBOUND_ALLOWED_PORTS`` (80 and 443), so it cannot probe other services;
- follows no redirect (a 3xx is a failure);
- has one wall-clock deadline for everything, resolution, connection, TLS, headers and body,
  which each caller names (``WEBHOOKS_DEADLINE_SECONDS`` for webhooks and alerts): a
  receiver that drips a byte a second is cut off;
- reports failures in words a customer may see, without internal detail: every refused
  destination and every connection failure reads the same (``UNREACHABLE``), so an answer
  does not tell a name that does not resolve from a private address, a port not allowed or a
  closed port; the reason goes to the server log (``perceptis.outbound``).

``url_check`` is the one check of a destination URL when it is saved (alert rules, job webhook
endpoints); ``post`` checks again, on the address it connects to, every time.
"""

import contextlib
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger("perceptis.outbound")

MAX_RESPONSE_BYTES = 64 * 1024
# The one answer for a destination refused or not reached, whatever the reason.
UNREACHABLE = "Could not connect to the destination."

_REFUSED_IPV6 = [
    ipaddress.ip_network(n)
    for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::ffff:0:0/96")
]
# Refused whatever the running Python's ``is_global`` says of them (it changed across versions).
_REFUSED_IPV4 = [
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15")
]
_GLOBAL_UNICAST_IPV6 = ipaddress.ip_network("2000::/3")


class OutboundError(Exception):
    """A request that failed or was refused; the message is safe to store and show."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.status = status
        # What a receiver answered with a non-2xx status (at most MAX_RESPONSE_BYTES).
        self.body = body


def _unreachable(host: str, port: int, reason: str) -> OutboundError:
    """Return the one refusal a customer sees; log why, for the operator."""
    logger.info("outbound destination %s port %s refused: %s", host, port, reason)
    return OutboundError(UNREACHABLE)


@dataclass
class OutboundResponse:
    status: int
    body: bytes


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Return whether ``address`` is a public unicast address we may connect to."""
    if isinstance(address, ipaddress.IPv6Address):
        if address not in _GLOBAL_UNICAST_IPV6:
            return False
        if any(address in network for network in _REFUSED_IPV6):
            return False
    elif any(address in network for network in _REFUSED_IPV4):
        return False
    return address.is_global and not address.is_multicast


def _allow_private() -> bool:
    return bool(
        getattr(settings, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
        or getattr(settings, "APIKEYS_ALERT_ALLOW_PRIVATE_URLS", False)
    )


def _getaddrinfo(host: str, port: int):
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)


def _connect(address: tuple, timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.error()
        return left

    def error(self) -> OutboundError:
        return OutboundError(f"No complete answer within {self.seconds:g} seconds.")


def _resolve(host: str, port: int, deadline: _Deadline) -> list[str]:
    """Return the addresses of ``host``, in order, resolving it once within the deadline."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    result: dict = {}

    def run():
        try:
            result["infos"] = _getaddrinfo(host, port)
        except (OSError, UnicodeError):
            result["infos"] = []

    thread = threading.Thread(target=run, daemon=True, name="outbound-resolve")
    thread.start()
    thread.join(deadline.remaining())
    if "infos" not in result:
        raise deadline.error()
    addresses = []
    for info in result["infos"]:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _unreachable(host, port, "the host name does not resolve")
    return addresses


def _target(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundError("The URL is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("The URL must be an http:// or https:// URL with a host.")
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = settings.OUTBOUND_ALLOWED_PORTS
    if port not in allowed:
        raise _unreachable(parts.hostname, port, "the port is not in OUTBOUND_ALLOWED_PORTS")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def url_check(url, *, require_https: bool = False, max_length: int = 500) -> str:
    """Return ``url`` stripped if a customer may register it as a destination, else raise
    ``ValueError`` with a message for the person who typed it.

    The checks every destination URL gets when it is saved (alert webhooks and Slack, job
    webhooks): an http(s) URL (https only with ``require_https``) with a host, no user name or
    password, no control characters, a port in ``OUTBOUND_ALLOWED_PORTS``, and, unless
    ``OUTBOUND_ALLOW_PRIVATE_ADDRESSES``, no private address written as the host (an IP
    literal or ``localhost``). Host names are not resolved here: what a name resolves to can
    change, so every request checks the address it connects to again (``post``).
    """
    invalid = "Enter a valid https URL." if require_https else "Enter a valid http or https URL."
    if not isinstance(url, str) or not url.strip():
        raise ValueError(invalid)
    url = url.strip()
    if len(url) > max_length:
        raise ValueError(f"The URL is at most {max_length} characters.")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise ValueError(invalid)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(invalid) from None
    schemes = ("https",) if require_https else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(invalid)
    if parts.username or parts.password:
        raise ValueError("URLs with a user name or password are not accepted.")
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = settings.OUTBOUND_ALLOWED_PORTS
    # One message for a port not allowed and a private host: the same as ``post`` records.
    refused = (
        "This destination is not allowed: use a public host name on port "
        f"{' or '.join(map(str, allowed))}."
    )
    if port not in allowed:
        logger.info(
            "outbound destination %s port %s refused: port not allowed", parts.hostname, port
        )
        raise ValueError(refused)
    if not _allow_private() and _private_host(parts.hostname):
        logger.info("outbound destination %s refused: not a public address", parts.hostname)
        raise ValueError(refused)
    return url


def _private_host(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return not address_allowed(address)


def post(url: str, *, body: bytes, headers: dict, deadline: float) -> OutboundResponse:
    """POST ``body`` to ``url`` under the rules above; return the 2xx answer.

    Raise ``OutboundError`` for a refused URL or address, a failed connection, the deadline
    passing, or any answer other than 2xx (its ``status`` set).
    """
    return request("POST", url, body=body, headers=headers, deadline=deadline)


def get(url: str, *, headers: dict, deadline: float) -> OutboundResponse:
    """GET ``url`` under the rules above (e.g. a provider's published keys); as ``post``."""
    return request("GET", url, body=b"", headers=headers, deadline=deadline)


def request(
    method: str, url: str, *, body: bytes, headers: dict, deadline: float
) -> OutboundResponse:
    """Send one ``method`` request to ``url`` under the rules above; return the 2xx answer."""
    timer = _Deadline(deadline)
    scheme, host, port, path = _target(url)
    addresses = _resolve(host, port, timer)
    if not _allow_private():
        for address in addresses:
            if not address_allowed(ipaddress.ip_address(address)):
                raise _unreachable(host, port, f"{address} is not a public unicast address")
    sock = None
    for address in addresses:
        try:
            sock = _connect((address, port), timeout=timer.remaining())
            break
        except OSError:
            continue
    if sock is None:
        if time.monotonic() >= timer.at:
            raise timer.error()
        raise _unreachable(host, port, "no address accepted the connection")
    # One watchdog for the whole exchange: socket timeouts apply per read, so a receiver that
    # sends a byte at a time would otherwise hold the worker for as long as it likes.
    watchdog = threading.Timer(max(timer.at - time.monotonic(), 0), _shut, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return _exchange(sock, method, scheme, host, port, path, body, headers, timer)
    finally:
        watchdog.cancel()
        sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _exchange(sock, method, scheme, host, port, path, body, headers, timer) -> OutboundResponse:
    try:
        if scheme == "https":
            # Certificate and host name are checked against the URL's host, not the address.
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timer.remaining())
        connection.sock = sock
        connection.request(
            method, path, body=body, headers={"Content-Length": str(len(body)), **headers}
        )
        response = connection.getresponse()
        received = b""
        while len(received) < MAX_RESPONSE_BYTES:
            timer.remaining()
            chunk = response.read1(MAX_RESPONSE_BYTES - len(received))
            if not chunk:
                break
            received += chunk
        timer.remaining()
    except OutboundError:
        raise
    except (OSError, http.client.HTTPException, ValueError):
        if time.monotonic() >= timer.at:
            raise timer.error() from None
        raise OutboundError(UNREACHABLE) from None
    status = response.status
    if not 200 <= status < 300:
        raise OutboundError(f"The receiver answered HTTP {status}.", status=status, body=received)
    return OutboundResponse(status=status, body=received)
