"""inbox: IMAP sync state per mailbox folder

Revision ID: 0002_inbox
Revises: 0001
Create Date: 2026-11-23 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_inbox'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mailbox_sync_state',
    sa.Column('mailbox', sa.String(length=100), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('acked_uid', sa.BigInteger(), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_sync_state')),
    sa.UniqueConstraint('mailbox', 'folder', name=op.f('uq_mailbox_sync_state_mailbox_folder'))
    )


def downgrade() -> None:
    op.drop_table('mailbox_sync_state')
