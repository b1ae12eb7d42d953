"""Imports every table module of ``db`` so that ``SQLModel.metadata`` (Alembic, tests) and
the place-bound registry (``db.registration``) are complete.

Modules are found, not listed: a domain's new ``db/<domain>.py`` cannot be left out.
"""

import importlib
import pkgutil

from sqlmodel import SQLModel

import db

for _module in pkgutil.iter_modules(db.__path__):
    if not _module.name.startswith("_") and _module.name != "models":
        importlib.import_module(f"db.{_module.name}")

from db.accounts import AreaGrant, LoginSession, PolicyState, User  # noqa: E402,F401
from db.area import Area  # noqa: E402,F401
from db.audit import AuditEvent  # noqa: E402,F401
from db.registry import Building, Household, Resident  # noqa: E402,F401
from db.stats import GridStats  # noqa: E402,F401

metadata = SQLModel.metadata
