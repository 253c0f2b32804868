"""wismo: tracking updates, delay episodes, scan runs; shipments' tracking columns

Revision ID: 0011_wismo
Revises: 0010_review
Create Date: 2026-12-06 15:54:45.153883
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011_wismo'
down_revision: str | None = '0010_review'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
OPEN_EPISODE = sa.text('closed_at IS NULL')
PENDING_NOTICE = sa.text('pending IS NOT NULL')
IN_FLIGHT = sa.text("status NOT IN ('delivered', 'returned')")
BACKORDERED = sa.text("status = 'backordered'")
SHIPMENT_STATUS = sa.Enum(
    'label_created', 'in_transit', 'out_for_delivery', 'failed_attempt', 'held_customs',
    'exception', 'delivered', 'returned',
    name='shipmentstatus', native_enum=False, length=32,
)
PROBLEM = sa.Enum(
    'delay', 'failed_attempt', 'customs_hold', 'exception', 'address_issue', 'backorder',
    name='problem', native_enum=False, length=32,
)
TRIGGER = sa.Enum(
    'promise_passed', 'eta_beyond_promise', 'no_scan', 'carrier_reported', 'failed_attempt',
    'customs_hold', 'exception', 'backorder', 'carrier_email',
    name='trigger', native_enum=False, length=32,
)


@contextmanager
def _quiet_reflection() -> Iterator[None]:
    """SQLite's batch mode reflects tables; it cannot reflect expression indexes and says so."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        yield


def upgrade() -> None:
    with _quiet_reflection():
        _upgrade()


def downgrade() -> None:
    with _quiet_reflection():
        _downgrade()


def _upgrade() -> None:
    op.create_table('wismo_scans',
    sa.Column('scanner', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipments', sa.Integer(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('follow_ups', sa.Integer(), nullable=False),
    sa.Column('enqueued', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.Integer(), nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wismo_scans'))
    )
    with op.batch_alter_table('wismo_scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wismo_scans_started_at'), ['started_at'], unique=False)

    op.create_table('shipment_updates',
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('shipment_id', ID, nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', SHIPMENT_STATUS, nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('data', JSON, nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_updates_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_updates')),
    sa.UniqueConstraint('source', 'event_id', name=op.f('uq_shipment_updates_source_event_id'))
    )
    with op.batch_alter_table('shipment_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_updates_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('wismo_episodes',
    sa.Column('brand_id', ID, nullable=False),
    sa.Column('order_id', ID, nullable=False),
    sa.Column('shipment_id', ID, nullable=True),
    sa.Column('problem', PROBLEM, nullable=False),
    sa.Column('trigger', TRIGGER, nullable=False),
    sa.Column('case_id', ID, nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pending', sa.String(length=16), nullable=True),
    sa.Column('follow_ups', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.String(length=200), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=16), nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_wismo_episodes_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wismo_episodes'))
    )
    # One open episode per (order, parcel, problem); an order-level one (a backorder) has no
    # parcel, and NULLs are distinct in unique indexes, so coalesce.
    op.create_index(
        'uq_wismo_episodes_open',
        'wismo_episodes',
        ['order_id', sa.text('coalesce(shipment_id, 0)'), 'problem'],
        unique=True,
        postgresql_where=OPEN_EPISODE,
        sqlite_where=OPEN_EPISODE,
    )
    op.create_index('ix_wismo_episodes_open', 'wismo_episodes', ['shipment_id'], unique=False, postgresql_where=OPEN_EPISODE, sqlite_where=OPEN_EPISODE)
    op.create_index('ix_wismo_episodes_pending', 'wismo_episodes', ['id'], unique=False, postgresql_where=PENDING_NOTICE, sqlite_where=PENDING_NOTICE)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wismo_episode_id', ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_wismo_episode_id'), ['wismo_episode_id'], unique=False)

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('predicted_eta', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_scan_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tracking_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delay_reported_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_shipments_in_flight', ['order_id'], unique=False, postgresql_where=IN_FLIGHT, sqlite_where=IN_FLIGHT)

    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='carrier', nullable=False))

    # A parcel's newest scan so far: without it, every parcel in flight would look stalled to
    # the first scan after this migration.
    op.execute(
        "UPDATE shipments SET last_scan_at = (SELECT max(occurred_at) FROM tracking_events "
        "WHERE tracking_events.shipment_id = shipments.id), tracking_updated_at = (SELECT "
        "max(occurred_at) FROM tracking_events WHERE tracking_events.shipment_id = shipments.id)"
    )

    op.create_index('ix_order_lines_backordered', 'order_lines', ['order_id'], unique=False, postgresql_where=BACKORDERED, sqlite_where=BACKORDERED)


def _downgrade() -> None:
    op.drop_index('ix_order_lines_backordered', table_name='order_lines')
    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.drop_column('source')

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_in_flight', postgresql_where=IN_FLIGHT, sqlite_where=IN_FLIGHT)
        batch_op.drop_column('delay_reported_at')
        batch_op.drop_column('tracking_updated_at')
        batch_op.drop_column('last_scan_at')
        batch_op.drop_column('predicted_eta')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_wismo_episode_id'))
        batch_op.drop_column('wismo_episode_id')

    op.drop_index('uq_wismo_episodes_open', table_name='wismo_episodes')
    op.drop_index('ix_wismo_episodes_pending', table_name='wismo_episodes')
    op.drop_index('ix_wismo_episodes_open', table_name='wismo_episodes')

    op.drop_table('wismo_episodes')
    with op.batch_alter_table('shipment_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_updates_shipment_id'))

    op.drop_table('shipment_updates')
    with op.batch_alter_table('wismo_scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wismo_scans_started_at'))

    op.drop_table('wismo_scans')
