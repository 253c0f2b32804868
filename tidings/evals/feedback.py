"""Ops' re-labels as training data: the ``human_labels`` table read as labelled records.

A person's label is the truth the model should learn from. The latest label for an email wins
(a re-label of a re-label); the text is what the classifier read (the parsed email, quotes
stripped by the inbox), so training sees what production sees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.facts import load_facts
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.evals.dataset import LabelledEmail
from tidings.store.models import HumanLabel

SOURCE = "ops-relabel"


def relabelled(session: Session, *, since: datetime | None = None) -> list[LabelledEmail]:
    """One record per email a person labelled, with their latest label."""
    known = set(load_taxonomy().names)
    query = select(HumanLabel).order_by(HumanLabel.id)
    if since is not None:
        query = query.where(HumanLabel.created_at >= since)
    latest: dict[int, HumanLabel] = {}
    for label in session.scalars(query):
        latest[label.email_id] = label
    records = []
    for email_id, label in latest.items():
        if label.label not in known:  # a category since removed from the taxonomy
            continue
        email = load_facts(session, email_id).as_input()  # what the model read in production
        fields: dict[str, Any] = {k: v for k, v in label.fields.items() if v is not None}
        records.append(
            LabelledEmail(
                id=f"hl-{label.id}",
                source=SOURCE,
                sender_kind=email.sender_kind,
                language=email.language,
                sender=email.sender or "",
                subject=email.subject,
                body=email.text,
                label=label.label,
                fields=fields,
                date=email.sent_on,
                channel=email.medium,
                in_reply_to=email.answers_notice,
            )
        )
    return records
