"""review queue: cases carry their due time and priority, indexed in queue order

Revision ID: 0010_review
Revises: 0009_models
Create Date: 2026-12-07 10:00:00.000000

Cases already waiting in review get the due time the agent gives new ones (the default SLA of
their category, from their email's arrival); a brand's own SLA applies from their next
escalation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_review'
down_revision: str | None = '0009_models'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='5'))
        batch_op.create_index('ix_cases_queue', ['state', 'due_at', 'priority', 'id'], unique=False)
    _backfill()


def _backfill() -> None:
    from tidings.agent.sla import due
    from tidings.config.settings import AgentSettings
    from tidings.store.base import UTCDateTime

    cases = sa.table(
        'cases',
        sa.column('id', sa.Integer()),
        sa.column('email_id', sa.Integer()),
        sa.column('state', sa.String()),
        sa.column('category', sa.String()),
        sa.column('created_at', UTCDateTime()),
        sa.column('due_at', UTCDateTime()),
        sa.column('priority', sa.Integer()),
    )
    emails = sa.table('inbound_emails', sa.column('id', sa.Integer()), sa.column('received_at', UTCDateTime()))
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(cases.c.id, cases.c.category, sa.func.coalesce(emails.c.received_at, cases.c.created_at, type_=UTCDateTime()))
        .select_from(cases.outerjoin(emails, emails.c.id == cases.c.email_id))
        .where(cases.c.state.in_(['escalated', 'decided']))
    ).all()
    settings = AgentSettings()
    for case_id, category, arrived in waiting:
        sla = due(category, None, settings, arrived=arrived)
        connection.execute(
            cases.update().where(cases.c.id == case_id).values(due_at=sla.at, priority=sla.priority)
        )


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_queue')
        batch_op.drop_column('priority')
        batch_op.drop_column('due_at')
