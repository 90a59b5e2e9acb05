"""session forks

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('sessions', sa.Column('fork_source_agent_session_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
    op.add_column('sessions', sa.Column('fork_at_message_uuid', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column('sessions', 'fork_at_message_uuid')
    op.drop_column('sessions', 'fork_source_agent_session_id')
