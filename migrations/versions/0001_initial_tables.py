"""initial tables

Revision ID: 0001
Revises: 
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from graphql_api.store.types import BigIntPK, JSONType, UTCDateTime

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_key_id', sa.Uuid(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('options', JSONType, nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('agent_session_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('workspace', sa.Text(), nullable=True),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('total_turns', sa.Integer(), nullable=False),
    sa.Column('total_cost_usd', sa.Float(), nullable=False),
    sa.Column('metadata', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_key_id'], ['api_keys.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['sessions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sessions_created', 'sessions', ['created_at', 'id'], unique=False)
    op.create_index('ix_sessions_owner_created', 'sessions', ['owner_key_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_sessions_owner_updated', 'sessions', ['owner_key_id', 'updated_at', 'id'], unique=False)
    op.create_index('ix_sessions_parent_created', 'sessions', ['parent_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_sessions_updated', 'sessions', ['updated_at', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_sessions_metadata_gin",
            "sessions",
            ["metadata"],
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        )
    op.create_table('turns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('images', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('usage', JSONType, nullable=True),
    sa.Column('num_turns', sa.Integer(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('structured_output', JSONType, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('instance_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('lease_expires_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_turns_session_created', 'turns', ['session_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_turns_status_created', 'turns', ['status', 'created_at'], unique=False)
    op.create_table('checkpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('turn_id', sa.Uuid(), nullable=True),
    sa.Column('user_message_uuid', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('files_modified', JSONType, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turn_id'], ['turns.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_checkpoints_session_created', 'checkpoints', ['session_id', 'created_at', 'id'], unique=False)
    op.create_table('messages',
    sa.Column('id', BigIntPK, nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('turn_id', sa.Uuid(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('content', JSONType, nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('parent_tool_use_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('uuid', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['turn_id'], ['turns.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'sequence', name='uq_messages_session_sequence')
    )
    op.create_index('ix_messages_turn_sequence', 'messages', ['turn_id', 'sequence'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_turn_sequence', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_checkpoints_session_created', table_name='checkpoints')
    op.drop_table('checkpoints')
    op.drop_index('ix_turns_status_created', table_name='turns')
    op.drop_index('ix_turns_session_created', table_name='turns')
    op.drop_table('turns')
    op.drop_index('ix_sessions_updated', table_name='sessions')
    op.drop_index('ix_sessions_parent_created', table_name='sessions')
    op.drop_index('ix_sessions_owner_updated', table_name='sessions')
    op.drop_index('ix_sessions_owner_created', table_name='sessions')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_sessions_metadata_gin", table_name="sessions")
    op.drop_index('ix_sessions_created', table_name='sessions')
    op.drop_table('sessions')
    op.drop_table('api_keys')
