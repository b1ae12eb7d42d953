"""Settings read once at start-up from arguments and the environment.

Production mode (``WANGGE_ENV=production``) turns the safety catches on: no start without
a real ``WANGGE_SECRET``, no demo passwords, internal errors never shown to clients.
Outside production an unset ``WANGGE_SECRET`` is replaced by a random secret generated
beside the SQLite database (``authz.tokens.load_secret``); there is no built-in one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from db.engine import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def _policies_path() -> Path:
    explicit = os.environ.get("WANGGE_POLICIES")
    if explicit:
        return Path(explicit)
    for candidate in (REPO_ROOT / "policies.csv", Path.cwd() / "policies.csv"):
        if candidate.exists():
            return candidate
    return REPO_ROOT / "policies.csv"


@dataclass(frozen=True)
class Settings:
    database_url: str
    production: bool = False
    secret: str = ""
    policies_path: Path = field(default_factory=_policies_path)
    max_page_size: int = 100
    default_page_size: int = 20
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    #: Pooled connections (each request holds exactly one, see ``server.context``); a
    #: request that cannot get one within ``pool_timeout`` seconds answers 503.
    pool_size: int = 10
    pool_overflow: int = 10
    pool_timeout: float = 3.0
    #: ``lookupResident`` calls a user may make per day (``docs/AUTHORIZATION.md``).
    lookup_quota: int = 20
    #: The deployment's zone: where "today" begins for quotas and daily figures.
    timezone: str = "Asia/Shanghai"

    def pool_options(self) -> dict:
        return {"pool_size": self.pool_size, "max_overflow": self.pool_overflow, "pool_timeout": self.pool_timeout}

    @classmethod
    def from_env(cls, database_url_arg: str | None = None, **overrides) -> "Settings":
        from authz.tokens import load_secret

        production = os.environ.get("WANGGE_ENV", "development").lower() == "production"
        url = database_url(database_url_arg)
        values = dict(
            database_url=url,
            production=production,
            # $WANGGE_SECRET, else (development, SQLite file) the one generated beside the database
            secret=load_secret(production, url),
        )
        for name, env, kind in (("pool_size", "WANGGE_POOL_SIZE", int), ("pool_overflow", "WANGGE_POOL_OVERFLOW", int),
                                ("pool_timeout", "WANGGE_POOL_TIMEOUT", float),
                                ("lookup_quota", "WANGGE_LOOKUP_QUOTA", int), ("timezone", "WANGGE_TIMEZONE", str)):
            if os.environ.get(env):
                values[name] = kind(os.environ[env])
        values.update(overrides)
        return cls(**values)
