"""Providers against their contracts (Prism mocks of the official specs), a misbehaving server,
and a real SMTP server: what is accepted, what is refused, and how failures are classified."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests import prism
from tests.flaky_provider import DROP, FlakyProvider, flaky_provider, slow, status
from tests.http import free_port
from tests.smtp import smtp_server
from tidings.channels.base import OutboundMessage
from tidings.channels.ratelimit import TokenBucket
from tidings.channels.registry import ChannelContext, ChannelRegistry, default_registry
from tidings.channels.sendgrid import SendGridChannel
from tidings.channels.smtp import SMTPChannel
from tidings.channels.twilio import TwilioChannel, twilio_client
from tidings.config import Settings
from tidings.errors import (
    ChannelError,
    ChannelOutcomeUnknownError,
    ChannelRejectedError,
    ChannelThrottledError,
    ConfigError,
)
from tidings.store.enums import ChannelKind

WA = ChannelKind.WHATSAPP


def message(kind: ChannelKind, **overrides: object) -> OutboundMessage:
    """A valid message of ``kind`` from Kapas & Co. to Asha."""
    base: dict[str, object] = {
        "notification_id": 7,
        "idempotency_key": "kapas/KAP-100001/delayed/1",
        "kind": kind,
        "brand": "kapas",
        "sender": {
            "whatsapp": "whatsapp:+14155238886",
            "sms": "+14155238886",
            "email": "support@kapas.example",
        }[kind.value],
        "sender_name": "Kapas & Co." if kind is ChannelKind.EMAIL else None,
        "recipient": {
            "whatsapp": "whatsapp:+919800000001",
            "sms": "+919800000001",
            "email": "asha@example.in",
        }[kind.value],
        "subject": "Your order is running late" if kind is ChannelKind.EMAIL else None,
        "text": "Hi Asha, your order KAP-100001 is running late.",
        "html": "<p>Hi Asha</p>" if kind is ChannelKind.EMAIL else None,
        "message_id": "<abc.7@kapas.example>" if kind is ChannelKind.EMAIL else None,
    }
    base.update(overrides)
    return OutboundMessage.model_validate(base)


@pytest.fixture(scope="module")
def twilio_routes() -> dict[str, str]:
    """Twilio's hosts routed to Prism."""
    return prism.twilio_routes()


@pytest.fixture
def twilio_http(twilio_routes: dict[str, str]) -> prism.LoopbackTwilioHttpClient:
    """A Twilio HTTP client that only reaches the Prism mocks."""
    return prism.LoopbackTwilioHttpClient(twilio_routes)


def twilio(kind: ChannelKind, http: prism.LoopbackTwilioHttpClient) -> TwilioChannel:
    """A Twilio channel over ``http``."""
    client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
    return TwilioChannel(kind=kind, client=client)


@pytest.fixture(scope="module")
def sendgrid_url() -> str:
    """SendGrid's Mail Send on Prism."""
    return prism.server(prism.SENDGRID_MAIL).url


class TestTwilioContract:
    def test_whatsapp_free_text_is_accepted(
        self, twilio_http: prism.LoopbackTwilioHttpClient
    ) -> None:
        """A WhatsApp text with From, To and Body is a valid Messages request (201)."""
        result = twilio(WA, twilio_http).send(
            message(WA, status_callback="https://tidings.example/cb?notification=7")
        )
        assert result.provider == "twilio" and (result.provider_message_id or "").startswith("SM")
        assert twilio_http.sent == [
            ("POST", f"/2010-04-01/Accounts/{prism.ACCOUNT_SID}/Messages.json", 201)
        ]

    def test_whatsapp_template_is_accepted(
        self, twilio_http: prism.LoopbackTwilioHttpClient
    ) -> None:
        """An approved template goes as ContentSid + ContentVariables, without Body."""
        sid = "HX" + "0123456789abcdef" * 2
        twilio(WA, twilio_http).send(message(WA, content_sid=sid, content_variables={"1": "Asha"}))
        assert twilio_http.sent[-1][2] == 201

    def test_sms_is_accepted(self, twilio_http: prism.LoopbackTwilioHttpClient) -> None:
        """An SMS from the brand's number is a valid Messages request."""
        twilio(ChannelKind.SMS, twilio_http).send(message(ChannelKind.SMS))
        assert twilio_http.sent[-1][2] == 201

    def test_contract_violation_is_permanent(
        self, twilio_http: prism.LoopbackTwilioHttpClient
    ) -> None:
        """A request the contract refuses (a malformed account SID) is a permanent error."""
        client = twilio_client("AC-not-a-sid", prism.AUTH_TOKEN, http_client=twilio_http)
        with pytest.raises(ChannelRejectedError, match="twilio answered 422"):
            TwilioChannel(kind=WA, client=client).send(message(WA))

    def test_content_templates_are_whatsapp_only(
        self, twilio_http: prism.LoopbackTwilioHttpClient
    ) -> None:
        """An SMS with a ContentSid never reaches the provider."""
        with pytest.raises(ChannelRejectedError):
            twilio(ChannelKind.SMS, twilio_http).send(message(ChannelKind.SMS, content_sid="HX1"))
        assert twilio_http.sent == []


class TestSendGridContract:
    def test_email_is_accepted(self, sendgrid_url: str) -> None:
        """From, personalizations, text and HTML, custom args and unsubscribe headers: 202."""
        channel = SendGridChannel(api_key="SG.test", host=sendgrid_url)
        result = channel.send(
            message(ChannelKind.EMAIL, unsubscribe_url="https://tidings.example/u/x")
        )
        assert result.provider == "sendgrid"

    def test_contract_violation_is_permanent(self, sendgrid_url: str) -> None:
        """An email without a subject or text breaks the contract: 400, permanent."""
        channel = SendGridChannel(api_key="SG.test", host=sendgrid_url)
        with pytest.raises(ChannelRejectedError, match="sendgrid answered 400"):
            channel.send(message(ChannelKind.EMAIL, text="", html=None))


@pytest.fixture
def flaky() -> Iterator[FlakyProvider]:
    """The misbehaving provider."""
    with flaky_provider() as server:
        yield server


def flaky_twilio(server: FlakyProvider) -> TwilioChannel:
    """Twilio pointed at the misbehaving server with a short read timeout."""
    http = prism.LoopbackTwilioHttpClient({"*": server.url}, timeout=(1.0, 0.5))
    return twilio(WA, http)


def flaky_sendgrid(server: FlakyProvider) -> SendGridChannel:
    """SendGrid pointed at the misbehaving server with a short timeout."""
    return SendGridChannel(api_key="SG.test", host=server.url, timeout_seconds=0.5)


class TestFailureClassification:
    @pytest.mark.parametrize("make", [flaky_twilio, flaky_sendgrid], ids=["twilio", "sendgrid"])
    def test_503_is_transient(self, flaky: FlakyProvider, make: object) -> None:
        """503: the provider took nothing; retry later."""
        channel = make(flaky)  # type: ignore[operator]
        flaky.then(status(503))
        with pytest.raises(ChannelError) as caught:
            channel.send(message(channel.kind))
        assert caught.value.transient and not isinstance(caught.value, ChannelOutcomeUnknownError)
        assert flaky.accepted == []

    @pytest.mark.parametrize("make", [flaky_twilio, flaky_sendgrid], ids=["twilio", "sendgrid"])
    @pytest.mark.parametrize("code", [500, 502, 504, 408])
    def test_failures_while_handling_are_outcome_unknown(
        self, flaky: FlakyProvider, make: object, code: int
    ) -> None:
        """500, 502, 504, 408: the provider failed mid-request; the message may be out."""
        channel = make(flaky)  # type: ignore[operator]
        flaky.then(status(code))
        with pytest.raises(ChannelOutcomeUnknownError, match=str(code)):
            channel.send(message(channel.kind))

    def test_429_carries_retry_after(self, flaky: FlakyProvider) -> None:
        """SendGrid's 429 is throttling with the server's Retry-After hint."""
        flaky.then(status(429, **{"Retry-After": "7"}))
        with pytest.raises(ChannelThrottledError) as caught:
            flaky_sendgrid(flaky).send(message(ChannelKind.EMAIL))
        assert caught.value.retry_after == 7.0 and caught.value.transient

    @pytest.mark.parametrize("make", [flaky_twilio, flaky_sendgrid], ids=["twilio", "sendgrid"])
    @pytest.mark.parametrize("behaviour", [slow(1.5), DROP], ids=["timeout", "dropped"])
    def test_no_answer_after_sending_is_outcome_unknown(
        self, flaky: FlakyProvider, make: object, behaviour: object
    ) -> None:
        """A timeout or a dropped connection after the request went out: maybe sent."""
        channel = make(flaky)  # type: ignore[operator]
        flaky.then(behaviour)  # type: ignore[arg-type]
        with pytest.raises(ChannelOutcomeUnknownError):
            channel.send(message(channel.kind))
        assert len(flaky.accepted) == 1

    def test_connection_refused_is_transient_not_sent(self) -> None:
        """Nobody listening: transient, and certainly not sent."""
        closed = f"http://127.0.0.1:{free_port()}"
        http = prism.LoopbackTwilioHttpClient({"*": closed})
        for channel in (twilio(WA, http), SendGridChannel(api_key="SG.test", host=closed)):
            with pytest.raises(ChannelError) as caught:
                channel.send(message(channel.kind))
            assert caught.value.transient and not isinstance(
                caught.value, ChannelOutcomeUnknownError
            )


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a client
    context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


class TestSMTP:
    def test_delivers_text_and_html_with_a_stable_message_id(self) -> None:
        """The relay receives a multipart email from the brand with the notification's Message-ID."""
        with smtp_server() as box:
            channel = SMTPChannel(host=box.host, port=box.port, security="none")
            result = channel.send(
                message(ChannelKind.EMAIL, unsubscribe_url="https://t.example/u/x")
            )
        [email] = box.received
        assert result.provider_message_id == "<abc.7@kapas.example>" == email["Message-ID"]
        assert email["From"].addresses[0].display_name == "Kapas & Co."
        assert email["From"].addresses[0].addr_spec == "support@kapas.example"
        assert email["List-Unsubscribe"] == "<https://t.example/u/x>"
        assert email.get_body(("plain",)).get_content().startswith("Hi Asha")  # type: ignore[union-attr]
        assert email.get_body(("html",)) is not None

    def test_starttls(self, tmp_path: Path) -> None:
        """STARTTLS against a relay with a certificate the client trusts."""
        server_ctx, client_ctx = _self_signed(tmp_path)
        with smtp_server(tls_context=server_ctx) as box:
            channel = SMTPChannel(
                host=box.host, port=box.port, security="starttls", ssl_context=client_ctx
            )
            channel.send(message(ChannelKind.EMAIL))
        assert len(box.received) == 1

    def test_replies_are_classified(self) -> None:
        """451 is transient, 550 permanent, a hang-up after DATA is outcome-unknown."""
        with smtp_server() as box:
            channel = SMTPChannel(host=box.host, port=box.port, security="none", timeout_seconds=2)
            box.then("451", "550", "drop")
            with pytest.raises(ChannelError) as transient:
                channel.send(message(ChannelKind.EMAIL))
            assert transient.value.transient
            with pytest.raises(ChannelRejectedError):
                channel.send(message(ChannelKind.EMAIL))
            with pytest.raises(ChannelOutcomeUnknownError):
                channel.send(message(ChannelKind.EMAIL))
            channel.send(message(ChannelKind.EMAIL))  # the resend of the dropped one
        assert len(box.received) == 2 and len(box.mailbox) == 1  # same Message-ID: one copy kept

    def test_relay_down_is_transient(self) -> None:
        """Connection refused: transient, nothing sent."""
        channel = SMTPChannel(host="127.0.0.1", port=free_port(), security="none")
        with pytest.raises(ChannelError) as caught:
            channel.send(message(ChannelKind.EMAIL))
        assert caught.value.transient and not isinstance(caught.value, ChannelOutcomeUnknownError)


class TestRegistry:
    def test_configured_providers_win_file_outbox_is_the_fallback(self, tmp_path: Path) -> None:
        """Twilio and SendGrid when configured; SMTP when only it is; the file outbox otherwise."""
        settings = Settings(
            outbox_dir=tmp_path,
            twilio={"account_sid": prism.ACCOUNT_SID, "auth_token": "t"},
            sendgrid={"api_key": "SG.x"},
            smtp={"host": "127.0.0.1"},
        )
        built = default_registry().build(ChannelContext(settings=settings))
        assert {k: c.name for k, c in built.items()} == {
            "whatsapp": "twilio",
            "sms": "twilio",
            "email": "sendgrid",
        }
        only_smtp = Settings(outbox_dir=tmp_path, smtp={"host": "127.0.0.1"})
        built = default_registry().build(ChannelContext(settings=only_smtp))
        assert {k: c.name for k, c in built.items()} == {
            "whatsapp": "file",
            "sms": "file",
            "email": "smtp",
        }
        prefer = default_registry().build(
            ChannelContext(settings=settings), prefer={ChannelKind.EMAIL: "smtp"}
        )
        assert prefer[ChannelKind.EMAIL].name == "smtp"

    def test_add_ons_register_like_built_ins(self, tmp_path: Path) -> None:
        """An add-on registered with a better priority replaces the built-in for its kind."""
        from tidings.channels import builtin
        from tidings.channels.outbox_file import FileOutboxChannel

        registry = ChannelRegistry()
        builtin.register(registry)
        registry.register(
            "pigeon",
            [ChannelKind.SMS],
            lambda kind, ctx: FileOutboxChannel(kind=kind, directory=tmp_path),
            priority=1,
        )
        assert registry.names(ChannelKind.SMS) == ["pigeon", "twilio", "file"]
        with pytest.raises(ConfigError, match="no channel provider named 'carrier-pigeon'"):
            registry.build(
                ChannelContext(settings=Settings()), prefer={ChannelKind.SMS: "carrier-pigeon"}
            )


def test_token_bucket_paces_calls() -> None:
    """At 10/s with a burst of 1, the eleventh call in a row waits a second in all."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(10, burst=1, clock=lambda: now[0], sleep=sleep)
    waited = sum(bucket.acquire() for _ in range(11))
    assert waited == pytest.approx(1.0)
