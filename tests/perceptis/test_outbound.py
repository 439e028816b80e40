"""The outbound client cannot be turned on us: pinned addresses, refused forms, ports,
redirects and one deadline. Fake receivers listen on 127.0.0.1 only."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from perceptis import outbound
from perceptis.outbound import UNREACHABLE, OutboundError


class Receiver:
    """A receiver on 127.0.0.1 that answers with ``status`` (and a Location for 3xx)."""

    def __init__(self, status=200, location=""):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    made = []

    def make(**kwargs):
        server = Receiver(**kwargs)
        settings.OUTBOUND_ALLOWED_PORTS = [*settings.OUTBOUND_ALLOWED_PORTS, server.port]
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture(autouse=True)
def _private_refused(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = False


def _post(url, *, deadline=10.0):
    return outbound.post(
        url, body=b"{}", headers={"Content-Type": "application/json"}, deadline=deadline
    )


def test_a_rebinding_resolver_never_gets_the_client_to_loopback(receiver, monkeypatch):
    server = receiver()
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    resolved, connected = [], []

    def resolver(host, port):
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

    def connect(address, timeout):
        connected.append(address[0])
        raise ConnectionRefusedError  # no network in tests: the public address is not dialled

    monkeypatch.setattr(outbound, "_getaddrinfo", resolver)
    monkeypatch.setattr(outbound, "_connect", connect)
    with pytest.raises(OutboundError):
        _post(f"http://rebind.example:{server.port}/hook")
    assert resolved == ["rebind.example"]  # resolved once
    assert connected == ["93.184.216.34"]  # to the address that was checked
    assert server.requests == []


def test_a_host_that_also_resolves_to_loopback_is_refused(receiver, monkeypatch):
    server = receiver()
    connected = []
    monkeypatch.setattr(
        outbound,
        "_getaddrinfo",
        lambda host, port: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ],
    )
    monkeypatch.setattr(outbound, "_connect", lambda a, timeout: connected.append(a))
    with pytest.raises(OutboundError, match=UNREACHABLE):
        _post(f"http://mixed.example:{server.port}/")
    assert connected == []
    assert server.requests == []


REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "192.0.0.8",
    "192.88.99.1",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::7f00:1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:db8::1",
    "ff02::1",
    "ff0e::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_each_refused_address_form_is_refused_without_connecting(address, monkeypatch):
    connected = []
    monkeypatch.setattr(outbound, "_connect", lambda a, timeout: connected.append(a))
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(OutboundError, match=UNREACHABLE):
        _post(f"http://{host}/hook")
    with pytest.raises(OutboundError, match=UNREACHABLE):
        monkeypatch.setattr(
            outbound,
            "_getaddrinfo",
            lambda h, port: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port))],
        )
        _post("https://name.example/hook")
    assert connected == []


@pytest.mark.parametrize(
    "url",
    ["http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://localhost/"],
)
def test_numeric_and_named_spellings_of_loopback_are_refused(url, monkeypatch):
    monkeypatch.setattr(outbound, "_connect", lambda a, timeout: pytest.fail("connected"))
    with pytest.raises(OutboundError, match=UNREACHABLE):
        _post(url)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    import ipaddress

    assert outbound.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url", ["http://example.com:8080/", "https://example.com:22/", "http://example.com:6379/"]
)
def test_only_the_allowed_ports_are_used(url, monkeypatch):
    monkeypatch.setattr(outbound, "_getaddrinfo", lambda h, p: pytest.fail("resolved"))
    with pytest.raises(OutboundError, match=UNREACHABLE):
        _post(url)


def test_a_private_receiver_is_reached_when_allowed(receiver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    server = receiver()
    response = _post(f"http://127.0.0.1:{server.port}/hook?x=1")
    assert response.status == 200
    assert server.requests == ["/hook?x=1"]


def test_the_old_setting_name_is_an_alias(receiver, settings):
    settings.APIKEYS_ALERT_ALLOW_PRIVATE_URLS = True
    server = receiver()
    assert _post(f"http://127.0.0.1:{server.port}/").status == 200


def test_redirects_are_not_followed(receiver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    target = receiver()
    server = receiver(status=302, location=f"http://127.0.0.1:{target.port}/internal")
    with pytest.raises(OutboundError, match="HTTP 302") as refused:
        _post(f"http://127.0.0.1:{server.port}/")
    assert refused.value.status == 302
    assert target.requests == []


def test_connection_failures_read_the_same_without_detail(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OUTBOUND_ALLOWED_PORTS = [port]
    with pytest.raises(OutboundError) as refused:
        _post(f"http://127.0.0.1:{port}/")
    assert str(refused.value) == "Could not connect to the destination."


class Dripper:
    """A receiver that sends its answer one byte every ``interval`` seconds."""

    def __init__(self, *, interval: float, answer: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.interval, self.answer = interval, answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            for byte in self.answer:
                if self.stop.wait(self.interval):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",  # slow headers
        b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n" + b"x" * 900,  # slow body
    ],
    ids=["headers", "body"],
)
def test_a_dripping_receiver_is_cut_at_the_deadline(settings, answer):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    dripper = Dripper(interval=0.05, answer=answer)
    settings.OUTBOUND_ALLOWED_PORTS = [dripper.port]
    started = time.monotonic()
    try:
        with pytest.raises(OutboundError, match="within 1 seconds"):
            _post(f"http://127.0.0.1:{dripper.port}/", deadline=1.0)
    finally:
        dripper.stop.set()
    assert time.monotonic() - started < 2.0


def test_every_refused_destination_reads_the_same_and_the_reason_is_logged(caplog):
    """An attacker probing the network through a webhook learns nothing from the error: a
    name that does not resolve, a name and a literal for internal addresses and a port not
    allowed all record the same words; the operator's log has the reason."""
    caplog.set_level("INFO", logger="perceptis.outbound")
    answers = {}
    for url in (
        "http://nothing-here.invalid/hook",
        "http://localhost/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://example.com:6379/hook",
    ):
        with pytest.raises(OutboundError) as refused:
            _post(url)
        answers[url] = str(refused.value)
    assert set(answers.values()) == {UNREACHABLE}
    reasons = " ".join(r.getMessage() for r in caplog.records)
    assert "does not resolve" in reasons
    assert "127.0.0.1 is not a public unicast address" in reasons
    assert "port is not in OUTBOUND_ALLOWED_PORTS" in reasons


def test_url_check_gives_one_answer_for_a_port_and_a_private_host():
    private = "https://10.1.2.3/hook"
    port = "https://example.com:8443/hook"
    answers = set()
    for url in (private, port, "https://localhost/hook", "https://[fd00::1]/hook"):
        with pytest.raises(ValueError) as refused:
            outbound.url_check(url)
        answers.add(str(refused.value))
    assert len(answers) == 1
    assert outbound.url_check(" https://example.com/hook ") == "https://example.com/hook"
