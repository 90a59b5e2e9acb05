"""tool approvals and agent transcripts

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from graphql_api.store.types import BigIntPK, JSONType, UTCDateTime

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_session_summaries',
    sa.Column('project_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('mtime', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('project_key', 'session_id')
    )
    op.create_table('agent_transcript_entries',
    sa.Column('id', BigIntPK, nullable=False),
    sa.Column('project_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('subpath', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('entry_uuid', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('entry', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_key', 'session_id', 'subpath', 'entry_uuid', name='uq_transcript_entry_uuid')
    )
    op.create_index('ix_transcript_key', 'agent_transcript_entries', ['project_key', 'session_id', 'subpath', 'id'], unique=False)
    op.create_table('tool_approvals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('turn_id', sa.Uuid(), nullable=False),
    sa.Column('tool_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('tool_use_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('input', JSONType, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('updated_input', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turn_id'], ['turns.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_tool_approvals_session_status', 'tool_approvals', ['session_id', 'status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tool_approvals_session_status', table_name='tool_approvals')
    op.drop_table('tool_approvals')
    op.drop_index('ix_transcript_key', table_name='agent_transcript_entries')
    op.drop_table('agent_transcript_entries')
    op.drop_table('agent_session_summaries')
