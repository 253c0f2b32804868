"""The unique constraints that make replays harmless, proven on the real database."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from tests.factories import brand_rows
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind
from tidings.store.models import Action, InboundEmail, Notification, Template


def _email(mailbox: str, key: str) -> InboundEmail:
    return InboundEmail(
        mailbox=mailbox,
        dedupe_key=key,
        message_id=key,
        content_hash="0" * 64,
        raw=b"x",
        size_bytes=1,
    )


def _notification(brand_id: int, key: str) -> Notification:
    return Notification(
        idempotency_key=key,
        brand_id=brand_id,
        event="delayed",
        channel=ChannelKind.EMAIL,
        language="en",
        recipient="asha@example.in",
    )


class TestUniqueness:
    def test_message_id_unique_per_mailbox(self, sessions: SessionFactory) -> None:
        """The same Message-ID twice in one mailbox is refused by the database itself."""
        with transaction(sessions) as session:
            session.add(_email("kapas-support", "abc@mail.example"))
        with pytest.raises(IntegrityError), transaction(sessions) as session:
            session.add(_email("kapas-support", "abc@mail.example"))

    def test_same_message_id_in_another_mailbox_is_fine(self, sessions: SessionFactory) -> None:
        """Two mailboxes may each receive a copy of one email."""
        with transaction(sessions) as session:
            session.add(_email("kapas-support", "abc@mail.example"))
            session.add(_email("griha-support", "abc@mail.example"))

    def test_notification_idempotency_key_unique(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A notification cannot be enqueued twice for the same (brand, order, event, episode)."""
        with transaction(sessions) as session:
            brand_id = brand_rows(session, brands)["kapas"].id
            session.add(_notification(brand_id, "kapas:KAP-1:delayed:1"))
        with pytest.raises(IntegrityError), transaction(sessions) as session:
            session.add(_notification(brand_id, "kapas:KAP-1:delayed:1"))

    def test_action_idempotency_key_unique(self, sessions: SessionFactory) -> None:
        """An order-API action with a used key is refused."""
        with transaction(sessions) as session:
            session.add(Action(kind="cancel_order", idempotency_key="case-7:cancel", actor="agent"))
        with pytest.raises(IntegrityError), transaction(sessions) as session:
            session.add(Action(kind="cancel_order", idempotency_key="case-7:cancel", actor="agent"))

    def test_default_template_slot_unique(self, sessions: SessionFactory) -> None:
        """Even with no brand (the default slot), one template per event, channel and language."""
        with transaction(sessions) as session:
            session.add(
                Template(brand_id=None, event="shipped", channel=ChannelKind.SMS, language="en")
            )
        with pytest.raises(IntegrityError), transaction(sessions) as session:
            session.add(
                Template(brand_id=None, event="shipped", channel=ChannelKind.SMS, language="en")
            )
