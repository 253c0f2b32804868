"""unsubscribe tokens: random, opaque unsubscribe links instead of id.channel.hmac

Revision ID: 0005_unsubscribe_tokens
Revises: 0004_channels
Create Date: 2026-12-06 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_unsubscribe_tokens'
down_revision: str | None = "0004_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unsubscribe_tokens',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.Enum('whatsapp', 'email', 'sms', name='channelkind', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_unsubscribe_tokens_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unsubscribe_tokens')),
    sa.UniqueConstraint('customer_id', 'channel', name=op.f('uq_unsubscribe_tokens_customer_id_channel')),
    sa.UniqueConstraint('token', name=op.f('uq_unsubscribe_tokens_token'))
    )


def downgrade() -> None:
    op.drop_table('unsubscribe_tokens')
