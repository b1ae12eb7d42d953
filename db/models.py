"""Imports every table so that ``SQLModel.metadata`` is complete (Alembic, tests)."""

from db.accounts import AreaGrant, LoginSession, PolicyState, User  # noqa: F401
from db.area import Area  # noqa: F401
from db.audit import AuditEvent  # noqa: F401
from db.registry import Building, Household, Resident  # noqa: F401
from db.stats import GridStats  # noqa: F401

from sqlmodel import SQLModel

metadata = SQLModel.metadata
