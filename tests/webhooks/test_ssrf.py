"""No SSRF through callbacks (SPEC §6): destinations are checked on the addresses they resolve to when
sending, refused before any connection, and connections go only to the checked addresses.

Nothing here connects anywhere but loopback: ``connections`` wraps the one place callbacks connect and
blocks (and records) any other address, and the refused destinations are refused before that point."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from urllib3.util import connection as urllib3_connection

from jobs.models import Job
from tests.conftest import error_of
from tests.webhooks.conftest import callbacks_allowed_to, deliveries, hook, run_callbacks
from webhooks import sending, ssrf
from webhooks.models import CallbackDelivery


@pytest.fixture(autouse=True)
def strict(settings):
    """Production defaults: DEBUG off, no allowed networks; retries at once."""
    return callbacks_allowed_to(settings, [])


@pytest.fixture(autouse=True)
def connections(monkeypatch) -> list[str]:
    """Every address a callback connects to; only loopback ones are really connected."""
    made: list[str] = []
    real = urllib3_connection.create_connection

    def guarded(address, *args, **kwargs):
        made.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise OSError("test guard: no connection leaves this machine")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3_connection, "create_connection", guarded)
    return made


def deliver_status_now(submit, tenant, url: str) -> CallbackDelivery:
    """Submit a job with a status callback to ``url`` and run its QUEUED delivery."""
    job = submit(tenant, callbacks=[hook(url, type="status")])
    run_callbacks()
    (delivery,) = deliveries(job)
    return delivery


REFUSED_URLS = [
    pytest.param("http://127.0.0.1:{port}/hook", id="loopback-v4"),
    pytest.param("http://127.5.6.7:{port}/hook", id="loopback-v4-other"),
    pytest.param("http://[::1]:{port}/hook", id="loopback-v6"),
    pytest.param("http://localhost:{port}/hook", id="name-resolving-to-loopback"),
    pytest.param("http://[::ffff:127.0.0.1]:{port}/hook", id="ipv4-mapped-v6"),
    pytest.param("http://169.254.169.254/latest/meta-data", id="cloud-metadata"),
    pytest.param("http://10.0.0.1/", id="private"),
    pytest.param("http://0.0.0.0:{port}/hook", id="unspecified"),
    pytest.param("http://[fe80::1]/", id="link-local-v6"),
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_destinations_are_refused_before_connecting(submit, tenant, receiver, connections, url):
    """Loopback, private, link-local, unspecified, mapped: refused, no connection, nothing received."""
    delivery = deliver_status_now(submit, tenant, url.format(port=receiver.port))
    (attempt,) = delivery.attempt_log.all()
    assert delivery.status == "refused" and delivery.attempts == 1
    assert attempt.status_code is None and attempt.error.startswith("refused: ")
    assert connections == [] and receiver.requests == []


def test_refused_delivery_is_not_retried(submit, tenant, receiver):
    """A refusal ends the delivery: running the queue again makes no second attempt."""
    delivery = deliver_status_now(submit, tenant, receiver.url())
    sending.deliver(str(delivery.delivery_id))
    run_callbacks()
    delivery.refresh_from_db()
    assert delivery.status == "refused" and delivery.attempt_log.count() == 1


def test_refusal_never_changes_the_job(submit, tenant):
    """A refused callback leaves the job as it was."""
    job = submit(tenant, callbacks=[hook("http://169.254.169.254/latest/meta-data", type="status")])
    before = Job.objects.get(pk=job["job_id"])
    run_callbacks()
    after = Job.objects.get(pk=job["job_id"])
    assert after.status == "QUEUED" and after.updated_at == before.updated_at
    assert deliveries(job)[0].status == "refused"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://example.com/", "http:///x"])
def test_non_http_urls_are_rejected_at_submit(rpc, tenant, url):
    """Only http and https URLs are accepted: anything else is -32602 and nothing is stored."""
    body = {"code_type": "qasm2", "source_code": ["OPENQASM 2.0;"], "backend": "dummy", "callbacks": [hook(url)]}
    assert error_of(rpc("submit_job", {"body": body}, who=tenant))["code"] == -32602
    assert not Job.objects.exists()


def test_redirect_to_loopback_is_not_followed(strict, submit, tenant, receiver, connections):
    """An allowed receiver answering 302 to a loopback URL: the attempt fails, the target is never asked."""
    strict.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    receiver.redirect_to = f"http://localhost:{receiver.port}/internal"
    delivery = deliver_status_now(submit, tenant, receiver.url("/redirect"))
    assert receiver.paths() == ["/redirect"] * 6
    assert {a.status_code for a in delivery.attempt_log.all()} == {302}
    assert delivery.status == "failed" and set(connections) == {"127.0.0.1"}


def test_allowed_networks_let_loopback_through(strict, submit, tenant, receiver):
    """With CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8"] the loopback receiver is reached."""
    strict.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    delivery = deliver_status_now(submit, tenant, receiver.url())
    assert delivery.status == "delivered" and receiver.paths() == ["/hook"]


def test_debug_allows_loopback_by_default(strict, submit, tenant, receiver):
    """DEBUG on (development) allows loopback without configuration: seed 000 posts to 127.0.0.1."""
    strict.DEBUG = True
    delivery = deliver_status_now(submit, tenant, receiver.url())
    assert delivery.status == "delivered" and receiver.paths() == ["/hook"]


def test_debug_still_refuses_metadata_address(strict, submit, tenant, connections):
    """DEBUG allows loopback only: 169.254.169.254 stays refused."""
    strict.DEBUG = True
    delivery = deliver_status_now(submit, tenant, "http://169.254.169.254/latest/meta-data")
    assert delivery.status == "refused" and connections == []


def test_connection_goes_to_the_checked_address(strict, monkeypatch, submit, tenant, receiver, connections):
    """A name resolved once: a second answer (DNS rebinding to 10.0.0.1) is never used; Host keeps the name."""
    strict.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.example":
            lookups.append(host)
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    delivery = deliver_status_now(submit, tenant, f"http://hooks.example:{receiver.port}/hook")
    assert delivery.status == "delivered" and lookups == ["hooks.example"]
    assert connections == ["127.0.0.1"]
    assert receiver.requests[0].headers["Host"] == f"hooks.example:{receiver.port}"


def test_any_refused_address_refuses_the_name(strict, monkeypatch, submit, tenant, receiver, connections):
    """A name with one public and one private address is refused: every address must pass."""
    real = socket.getaddrinfo

    def mixed(host, port, *args, **kwargs):
        if host == "mixed.example":
            return real("8.8.8.8", port, *args, **kwargs) + real("10.1.2.3", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    delivery = deliver_status_now(submit, tenant, "http://mixed.example/hook")
    assert delivery.status == "refused" and "10.1.2.3" in delivery.attempt_log.get().error
    assert connections == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_keeps_host_name_for_sni_and_verification(strict, monkeypatch, submit, tenant, tmp_path, connections):
    """https to a pinned address still sends the host name as SNI and verifies the certificate."""
    strict.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.example",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client rejects the self-signed certificate mid-handshake
        finally:
            conn.close()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **kw: real("127.0.0.1" if host == "hooks.example" else host, *a, **kw),
    )
    job = submit(tenant, callbacks=[hook(f"https://hooks.example:{port}/hook", type="status", retries=0)])
    run_callbacks()
    thread.join(timeout=5)
    listener.close()
    (delivery,) = deliveries(job)
    assert server_names == ["hooks.example"] and connections == ["127.0.0.1"]
    assert delivery.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in delivery.attempt_log.get().error


ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "private"),  # reserved; Python files it under private first
    ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ("2002:7f00:1::", "127.0.0.1 is loopback"),  # 6to4 around loopback
    ("64:ff9b::a00:1", "reserved"),  # NAT64 of 10.0.0.1
    ("8.8.8.8", None),
    ("1.1.1.1", None),
    ("2001:4860:4860::8888", None),
    ("::ffff:8.8.8.8", None),
]


@pytest.mark.parametrize(("address", "reason"), ADDRESSES)
def test_address_classifier(address, reason):
    """Every non-public address is refused, saying why; public unicast addresses pass."""
    refusal = ssrf.address_refusal(address)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    ("address", "allowed", "passes"),
    [
        ("127.0.0.1", ["127.0.0.0/8"], True),
        ("::ffff:127.0.0.1", ["127.0.0.0/8"], True),
        ("::1", ["127.0.0.0/8"], False),
        ("10.0.0.1", ["127.0.0.0/8"], False),
        ("10.0.0.1", ["10.0.0.0/24"], True),
        ("10.0.1.1", ["10.0.0.0/24"], False),
        ("fd00::5", ["fd00::/64"], True),
    ],
)
def test_allowed_networks_exempt_only_their_range(address, allowed, passes):
    """CALLBACK_ALLOWED_NETWORKS lets through exactly the addresses inside them."""
    networks = [ipaddress.ip_network(n) for n in allowed]
    assert (ssrf.address_refusal(address, networks) is None) is passes
