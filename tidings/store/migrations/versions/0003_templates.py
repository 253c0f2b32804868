"""templates: at most one published version per template slot

Revision ID: 0003_templates
Revises: 0002_inbox
Create Date: 2026-11-23 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_templates'
down_revision: str | None = "0002_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Partial unique index: publishing archives the previous version in the same transaction,
    # and the database refuses a second published version if two publishes race.
    op.create_index(
        'uq_template_versions_published',
        'template_versions',
        ['template_id'],
        unique=True,
        sqlite_where=sa.text("status = 'published'"),
        postgresql_where=sa.text("status = 'published'"),
    )


def downgrade() -> None:
    op.drop_index('uq_template_versions_published', table_name='template_versions')
