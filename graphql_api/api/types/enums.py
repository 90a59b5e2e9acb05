"""Enums of the contract; their values are the strings stored in the database."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class SessionStatus(Enum):
    IDLE = "IDLE"
    RUNNING = "RUNNING"
    ARCHIVED = "ARCHIVED"


@strawberry.enum
class PermissionMode(Enum):
    DEFAULT = "DEFAULT"
    ACCEPT_EDITS = "ACCEPT_EDITS"
    PLAN = "PLAN"
    BYPASS_PERMISSIONS = "BYPASS_PERMISSIONS"


@strawberry.enum
class SessionOrder(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"


@strawberry.enum
class TurnStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


@strawberry.enum
class MessageRole(Enum):
    USER = "USER"
    ASSISTANT = "ASSISTANT"
    SYSTEM = "SYSTEM"
    RESULT = "RESULT"
