"""The outbox: enqueue once per cause, dispatch, retry, dead-letter, replay, survive crashes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.channels_support import (
    FakeRenderer,
    add_customer,
    file_channels,
    make_dispatcher,
    notify,
)
from tests.factories import brand_rows, make_order
from tidings.channels.base import Channel, OutboundMessage, SendResult
from tidings.channels.outbox import POSSIBLY_SENT, idempotency_key, list_notifications, replay
from tidings.config import BrandsFile
from tidings.errors import ChannelError, ChannelRejectedError
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, NotificationState
from tidings.store.models import Notification, Order

S = NotificationState


class SimulatedCrash(BaseException):
    """The process dies right after the provider accepted the message."""


class CrashAfterSend:
    """Wraps a channel: sends for real, then 'dies' before the dispatcher can commit."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name, self.kind = inner.name, inner.kind
        self.idempotent, self.rate_per_second = inner.idempotent, inner.rate_per_second

    def send(self, message: OutboundMessage) -> SendResult:
        """Send, then crash."""
        self.inner.send(message)
        raise SimulatedCrash

    def close(self) -> None:
        """Close the real channel."""
        self.inner.close()


class Scripted:
    """A channel that raises the scripted errors, then accepts; counts what it accepted."""

    name, idempotent, rate_per_second = "scripted", False, None

    def __init__(self, kind: ChannelKind, *errors: Exception) -> None:
        self.kind = kind
        self.errors = list(errors)
        self.accepted: list[int] = []

    def send(self, message: OutboundMessage) -> SendResult:
        """Raise the next scripted error or accept."""
        if self.errors:
            raise self.errors.pop(0)
        self.accepted.append(message.notification_id)
        return SendResult(
            provider=self.name, provider_message_id=f"scripted-{message.notification_id}"
        )

    def close(self) -> None:
        """Nothing to close."""


class Gated:
    """A channel whose calls for the ``hold`` ids wait until released; the rest go at once."""

    name, idempotent, rate_per_second = "gated", False, None

    def __init__(self, kind: ChannelKind, hold: list[int]) -> None:
        self.kind = kind
        self.release = {row_id: threading.Event() for row_id in hold}
        self.entered = {row_id: threading.Event() for row_id in hold}
        self.accepted: list[int] = []

    def send(self, message: OutboundMessage) -> SendResult:
        """Wait at the gate if held, then accept."""
        row_id = message.notification_id
        if row_id in self.release:
            self.entered[row_id].set()
            self.release[row_id].wait(10)
        self.accepted.append(row_id)
        return SendResult(provider=self.name, provider_message_id=f"gated-{row_id}")

    def open_all(self) -> None:
        """Release every held call."""
        for gate in self.release.values():
            gate.set()

    def close(self) -> None:
        """Nothing to close."""


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _rows(sessions: SessionFactory) -> list[Notification]:
    with sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _setup(sessions: SessionFactory, brands: BrandsFile, **customer: object) -> int:
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        person = add_customer(session, rows["kapas"], **customer)  # type: ignore[arg-type]
        return notify(session, rows["kapas"], person).id


def _emails(sessions: SessionFactory, brands: BrandsFile, count: int) -> list[int]:
    """``count`` email notifications to different customers, oldest first."""
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        people = [
            add_customer(session, rows["kapas"], email=f"c{i}@example.in", channels=("email",))
            for i in range(count)
        ]
        return [
            notify(session, rows["kapas"], person, order_number=f"KAP-{i}").id
            for i, person in enumerate(people)
        ]


def _three_emails(sessions: SessionFactory, brands: BrandsFile) -> None:
    """Three email notifications in one batch; the middle one is ``address_updated``."""
    with transaction(sessions) as session:
        rows = brand_rows(session, brands)
        for i, event in enumerate(["order_confirmed", "address_updated", "order_confirmed"]):
            person = add_customer(
                session, rows["kapas"], email=f"c{i}@example.in", channels=("email",)
            )
            notify(session, rows["kapas"], person, event=event, order_number=f"KAP-{i}")


class TestEnqueue:
    def test_duplicate_enqueue_returns_the_existing_row(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The same (brand, order, event, episode) twice is one row; another episode is another."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            order = make_order(session, rows["kapas"])
            first = notify(session, rows["kapas"], order.customer, order=order)
            again = notify(session, rows["kapas"], order.customer, order=order)
            other = notify(session, rows["kapas"], order.customer, order=order, episode="2")
        assert first.id == again.id != other.id
        assert first.idempotency_key == idempotency_key(
            "kapas", "KAP-100001", "order_confirmed", "KAP-100001:1"
        )
        assert first.order_id == order.id and first.customer_id == order.customer_id
        with transaction(sessions) as session:  # a replayed cause in a later transaction
            rows = brand_rows(session, brands)
            same = session.get(Order, order.id)
            assert same is not None
            assert notify(session, rows["kapas"], same.customer, order=same).id == first.id
        assert len(_rows(sessions)) == 2

    def test_enqueue_belongs_to_the_callers_transaction(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """If the cause rolls back, so does its notification."""
        with pytest.raises(RuntimeError), transaction(sessions) as session:
            rows = brand_rows(session, brands)
            notify(session, rows["kapas"], add_customer(session, rows["kapas"]))
            raise RuntimeError("the order update failed")
        assert _rows(sessions) == []


class TestDispatch:
    def test_sends_renders_and_records(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A pending email is rendered at send time, written to the outbox, and recorded as sent."""
        row_id = _setup(sessions, brands, channels=("email",))
        renderer = FakeRenderer()
        dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), renderer=renderer)
        assert dispatcher.run_until_idle().counts == {"sent": 1}
        dispatcher.close()
        [row] = _rows(sessions)
        assert row.state is S.SENT and row.sent_at is not None and row.lease_owner is None
        assert row.subject == "Kapas & Co.: order_confirmed"
        assert (
            row.body == "order_confirmed for Asha, order KAP-100001 (en) - Lots of love, Team Kapas"
        )
        eml = (tmp_path / "kapas" / "email" / f"{row_id:08d}.eml").read_text()
        assert (
            'From: "Kapas & Co." <support@kapas.example>' in eml
            or "From: Kapas & Co. <support@kapas.example>" in eml
        )
        assert "To: asha.rao@example.in" in eml and "Message-ID: <" in eml
        assert renderer.calls[0]["time_zone"] == "Asia/Kolkata"

    def test_permanent_error_dead_letters_at_once(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A 4xx contract error is not retried: dead after one attempt, with the error kept."""
        _setup(sessions, brands, channels=("email",))
        channel = Scripted(
            ChannelKind.EMAIL, ChannelRejectedError("sendgrid answered 400: bad from")
        )
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel})
        assert dispatcher.run_until_idle().counts == {"dead": 1}
        [row] = _rows(sessions)
        assert row.state is S.DEAD and row.attempts == 1 and "bad from" in (row.last_error or "")

    def test_transient_errors_retry_then_send(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """5xx-like errors retry with backoff; the message goes out once in the end."""
        _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL, ChannelError("503"), ChannelError("500"))
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel})
        assert dispatcher.run_until_idle().counts == {"retry": 2, "sent": 1}
        [row] = _rows(sessions)
        assert row.state is S.SENT and row.attempts == 2 and channel.accepted == [row.id]

    def test_retries_run_out_into_dead(self, sessions: SessionFactory, brands: BrandsFile) -> None:
        """After the last attempt the row is dead with its error."""
        _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL, *[ChannelError("502 bad gateway")] * 10)
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel})
        assert dispatcher.run_until_idle().counts == {"retry": 3, "dead": 1}
        [row] = _rows(sessions)
        assert row.state is S.DEAD and row.attempts == 4 and "502" in (row.last_error or "")

    def test_backoff_waits_between_attempts(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """With a real backoff the retry is scheduled in the future, not run at once."""
        from tidings.store.lease import RetryPolicy

        _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL, ChannelError("503"))
        dispatcher = make_dispatcher(
            sessions, brands, {ChannelKind.EMAIL: channel}, retry=RetryPolicy(base_seconds=60)
        )
        assert dispatcher.run_until_idle().counts == {"retry": 1}
        [row] = _rows(sessions)
        assert row.state is S.PENDING and row.next_attempt_at is not None
        assert timedelta(seconds=29) < row.next_attempt_at - utcnow() <= timedelta(seconds=60)

    def test_template_error_dead_letters(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A template the engine refuses is a permanent error on the row, nothing is sent."""
        _setup(sessions, brands, channels=("email",))
        renderer = FakeRenderer(refuse={"order_confirmed"})
        dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), renderer=renderer)
        assert dispatcher.run_until_idle().counts == {"dead": 1}
        [row] = _rows(sessions)
        assert row.state is S.DEAD and "TemplateError" in (row.last_error or "")
        assert not (tmp_path / "kapas").exists()

    def test_one_refused_template_does_not_hold_up_the_batch(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A batch with one row the engine refuses: that row dies alone, the others go out."""
        _three_emails(sessions, brands)
        renderer = FakeRenderer(refuse={"address_updated"})
        dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), renderer=renderer)
        assert dispatcher.run_until_idle().counts == {"sent": 2, "dead": 1}
        states = {row.event: row.state for row in _rows(sessions)}
        assert states == {"order_confirmed": S.SENT, "address_updated": S.DEAD}

    def test_no_call_once_the_lease_has_run_out(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A send that would start after the lease's safe margin is not made: retried later."""
        _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL)
        dispatcher = make_dispatcher(
            sessions, brands, {ChannelKind.EMAIL: channel}, lease_for=timedelta(0)
        )
        assert dispatcher.run_once().counts == {"retry": 1}
        [row] = _rows(sessions)
        assert row.state is S.PENDING and channel.accepted == []
        assert "lease ran out" in (row.last_error or "")
        dispatcher.close()

    def test_a_batch_prepared_again_counts_each_outcome_once(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """An opted-out row (dropped) before a refused one: the batch is prepared again, and the
        drop is counted once in the metrics."""
        from tidings.channels.dispatch import OUTCOMES

        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            for i, (event, opted_in) in enumerate(
                [("order_confirmed", False), ("address_updated", True)]
            ):
                person = add_customer(
                    session,
                    rows["kapas"],
                    email=f"c{i}@example.in",
                    channels=("email",),
                    opted_in={"email": opted_in},
                )
                notify(session, rows["kapas"], person, event=event, order_number=f"KAP-{i}")
        dropped = OUTCOMES.labels(channel="email", outcome="dropped")
        before = dropped._value.get()
        renderer = FakeRenderer(refuse={"address_updated"})
        dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), renderer=renderer)
        assert dispatcher.run_until_idle().counts == {"dropped": 1, "dead": 1}
        assert dropped._value.get() - before == 1

    @pytest.mark.postgres
    def test_a_row_the_database_refuses_dies_alone(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """PostgreSQL refuses a NUL byte in a rendered text: that row is dead with the reason,
        the rest of its batch goes out; the dispatcher does not take it for an outage."""

        class NulRenderer(FakeRenderer):
            def __call__(self, **kwargs: Any) -> Any:
                rendered = super().__call__(**kwargs)
                if kwargs["event"] != "address_updated":
                    return rendered
                return rendered.model_copy(update={"text": rendered.text + "\x00"})

        _three_emails(sessions, brands)
        dispatcher = make_dispatcher(
            sessions, brands, file_channels(tmp_path), renderer=NulRenderer()
        )
        assert dispatcher.run_until_idle().counts == {"sent": 2, "dead": 1}
        [dead] = [row for row in _rows(sessions) if row.state is S.DEAD]
        assert dead.event == "address_updated" and "refused" in (dead.last_error or "")

    def test_outcomes_wait_through_a_database_outage(
        self, sessions: SessionFactory, brands: BrandsFile, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The database fails when the sends are to be recorded: the outcomes stay in memory and
        the next pass commits them; nothing is sent again."""
        row_id = _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL)
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel})
        real_record = dispatcher._record_sent
        outage = OperationalError("UPDATE notifications", {}, Exception("server closed"))

        def failing_once(sent: list[tuple[int, SendResult]]) -> list[str]:
            monkeypatch.setattr(dispatcher, "_record_sent", real_record)
            raise outage

        monkeypatch.setattr(dispatcher, "_record_sent", failing_once)
        with pytest.raises(OperationalError):
            dispatcher.run_until_idle()
        assert _rows(sessions)[0].state is S.SENDING
        assert dispatcher.run_until_idle().counts == {"sent": 1}
        [row] = _rows(sessions)
        assert row.state is S.SENT and channel.accepted == [row_id]
        dispatcher.close()


class TestSendingMeansOnTheWire:
    """A row is ``sending`` only while its own provider call is under way."""

    def _states(self, sessions: SessionFactory) -> dict[int, NotificationState]:
        return {row.id: row.state for row in _rows(sessions)}

    def test_rows_wait_pending_until_their_call(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """With two calls held open, those two rows are sending; the rest of the batch is
        rendered and leased but pending, and each is recorded sent as soon as its call ends,
        while a slow call of the same batch is still out."""
        ids = _emails(sessions, brands, 4)
        channel = Gated(ChannelKind.EMAIL, hold=ids[:2])
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel}, concurrency=2)
        runner = threading.Thread(target=dispatcher.run_once)
        runner.start()
        try:
            assert all(entered.wait(10) for entered in channel.entered.values())
            rows = {row.id: row for row in _rows(sessions)}
            assert [rows[i].state for i in ids] == [S.SENDING, S.SENDING, S.PENDING, S.PENDING]
            assert all(rows[i].lease_owner == dispatcher.owner and rows[i].body for i in ids[2:])
            channel.release[ids[1]].set()
            done = [S.SENDING, S.SENT, S.SENT, S.SENT]
            assert _wait_until(lambda: [self._states(sessions)[i] for i in ids] == done)
        finally:
            channel.open_all()
            runner.join(10)
        dispatcher.close()
        assert set(self._states(sessions).values()) == {S.SENT}
        assert sorted(channel.accepted) == ids

    def test_no_call_once_another_dispatcher_holds_the_row(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A row whose lease passed to another dispatcher between prepare and call is left to
        it: not sent, counted as lost."""
        first, second = _emails(sessions, brands, 2)
        channel = Gated(ChannelKind.EMAIL, hold=[first])
        dispatcher = make_dispatcher(sessions, brands, {ChannelKind.EMAIL: channel}, concurrency=1)
        counts: dict[str, int] = {}
        runner = threading.Thread(target=lambda: counts.update(dispatcher.run_once().counts))
        runner.start()
        try:
            assert channel.entered[first].wait(10)
            with transaction(sessions) as session:
                taken = session.get(Notification, second)
                assert taken is not None and taken.state is S.PENDING
                taken.lease_owner = "another-dispatcher"
        finally:
            channel.open_all()
            runner.join(10)
        dispatcher.close()
        assert counts == {"sent": 1, "lost": 1} and channel.accepted == [first]
        assert self._states(sessions) == {first: S.SENT, second: S.PENDING}


class TestCrashBetweenSendAndCommit:
    def _crash_then_recover(
        self, sessions: SessionFactory, brands: BrandsFile, channel: Channel, kind: ChannelKind
    ) -> dict[str, int]:
        crashing = make_dispatcher(sessions, brands, {kind: CrashAfterSend(channel)}, concurrency=1)
        with pytest.raises(SimulatedCrash):
            crashing.run_once()
        [row] = _rows(sessions)
        assert row.state is S.SENDING and row.lease_owner is not None  # committed before the call
        later = lambda: utcnow() + timedelta(minutes=6)  # noqa: E731 - the lease has expired
        recovering = make_dispatcher(sessions, brands, {kind: channel}, clock=later)
        report = recovering.run_until_idle().counts
        recovering.close()
        return report

    def test_idempotent_channel_is_resent_safely(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """The file outbox keys messages by id: the repeat replaces the file, one message exists."""
        row_id = _setup(sessions, brands, channels=("email",))
        channel = file_channels(tmp_path)[ChannelKind.EMAIL]
        assert self._crash_then_recover(sessions, brands, channel, ChannelKind.EMAIL) == {"sent": 1}
        [row] = _rows(sessions)
        assert row.state is S.SENT and row.attempts == 1
        assert [p.name for p in (tmp_path / "kapas" / "email").iterdir()] == [f"{row_id:08d}.eml"]

    def test_channel_without_key_is_reported_not_resent(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A provider without an idempotency key: the row is dead as possibly sent, one send."""
        _setup(sessions, brands, channels=("email",))
        channel = Scripted(ChannelKind.EMAIL)
        assert self._crash_then_recover(sessions, brands, channel, ChannelKind.EMAIL) == {
            "possibly_sent": 1
        }
        [row] = _rows(sessions)
        assert row.state is S.DEAD and row.hold_reason == POSSIBLY_SENT
        assert "between the provider call and its commit" in (row.last_error or "")
        assert channel.accepted == [row.id]


class TestReplay:
    def test_all_dead_skips_possibly_sent_unless_asked(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """--all-dead requeues dead letters but not possibly-sent ones; --id takes any dead row."""
        with transaction(sessions) as session:
            rows = brand_rows(session, brands)
            person = add_customer(session, rows["kapas"])
            failed = notify(session, rows["kapas"], person, episode="a")
            unsure = notify(session, rows["kapas"], person, episode="b")
            pending = notify(session, rows["kapas"], person, episode="c")
            failed.state, failed.attempts, failed.last_error = S.DEAD, 6, "503"
            unsure.state, unsure.hold_reason = S.DEAD, POSSIBLY_SENT
        with transaction(sessions) as session:
            report = replay(session=session, all_dead=True)
        assert report.requeued == [failed.id] and report.skipped == {unsure.id: POSSIBLY_SENT}
        with transaction(sessions) as session:
            report = replay(session=session, ids=[unsure.id, pending.id])
        assert report.requeued == [unsure.id] and pending.id in report.skipped
        by_id = {r.id: r for r in _rows(sessions)}
        assert by_id[failed.id].state is S.PENDING and by_id[failed.id].attempts == 0
        assert by_id[unsure.id].state is S.PENDING and by_id[unsure.id].hold_reason is None

    def test_replayed_dead_letter_is_sent(
        self, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A dead letter replayed after the cause is fixed goes out."""
        _setup(sessions, brands, channels=("email",))
        renderer = FakeRenderer(refuse={"order_confirmed"})
        make_dispatcher(
            sessions, brands, file_channels(tmp_path), renderer=renderer
        ).run_until_idle()
        renderer.refuse.clear()
        with transaction(sessions) as session:
            assert len(replay(session=session, all_dead=True).requeued) == 1
        dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path), renderer=renderer)
        assert dispatcher.run_until_idle().counts == {"sent": 1}
        with sessions() as session:
            assert [r.state for r in list_notifications(session=session)] == [S.SENT]
            assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_file_outbox_writes_whatsapp_json(
    sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
) -> None:
    """Inside the 24-hour window a WhatsApp message is free text, written as JSON."""
    row_id = _setup(sessions, brands, channels=("whatsapp",), last_inbound_whatsapp_at=utcnow())
    dispatcher = make_dispatcher(sessions, brands, file_channels(tmp_path))
    assert dispatcher.run_until_idle().counts == {"sent": 1}
    document = json.loads((tmp_path / "kapas" / "whatsapp" / f"{row_id:08d}.json").read_text())
    assert (
        document["sender"] == "whatsapp:+14155238886"
        and document["recipient"] == "whatsapp:+919800000001"
    )
    assert document["text"].startswith("order_confirmed for Asha")
