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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from authz.enforcer import default_policies_path
from db.counters import DEFAULT_ZONE
from db.isolation import DEFAULT_READING_WINDOWS, parse_windows
from db.engine import database_url


#: The request limits, each read from ``WANGGE_<NAME>`` (``WANGGE_MAX_TOKENS``, ...).
LIMIT_FIELDS = ("max_body_bytes", "anonymous_max_body_bytes", "max_json_depth", "max_tokens",
                "anonymous_max_tokens", "max_fields", "anonymous_max_fields", "max_cost",
                "anonymous_max_cost", "max_fragment_depth", "max_objects")


class SettingError(ValueError):
    """A setting the server cannot start with; ``field`` is the environment variable."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _parse(env: str, kind, text: str):
    try:
        return kind(text)
    except ValueError as exc:
        what = {int: "expected an integer", float: "expected a number"}.get(kind)
        raise SettingError(env, f"{what}, got {text!r}" if what else str(exc)) from None


def _windows(text: str) -> str:
    parse_windows(text)
    return text


def _zone(name: str) -> str:
    """An IANA zone name (``Asia/Shanghai``): refused at start-up, not at the first write that cuts a day."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected a name such as Asia/Shanghai)") from None
    return name


def _flag(value: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``); anything else is refused."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


@dataclass(frozen=True)
class Settings:
    database_url: str
    production: bool = False
    secret: str = ""
    policies_path: Path = field(default_factory=default_policies_path)  # the one rule for finding policies.csv
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
    timezone: str = DEFAULT_ZONE
    #: Morning and evening windows of isolation temperature readings, local time
    #: (``db.isolation.parse_windows``).
    reading_windows: str = DEFAULT_READING_WINDOWS
    #: Request limits, each checked before the work it protects (``server.limits``).
    #: Bodies: 1 MiB holds a ``nodes`` call with the whole object budget of IDs in its
    #: variables; a request without ``Authorization`` only logs in or reads the schema.
    max_body_bytes: int = 1_048_576
    anonymous_max_body_bytes: int = 16_384
    #: Nesting of arrays/objects in the JSON body (the API's inputs need 3: body, variables, input).
    max_json_depth: int = 32
    #: Tokens of a document. Parsing holds the event loop 3.5-6 ms per 1,000 tokens; the
    #: README's walk is 116 tokens, the tests' largest queries about 150, GraphiQL's
    #: introspection query 181 (a 2 KiB body).
    max_tokens: int = 10_000
    anonymous_max_tokens: int = 500
    #: Fields selected, each alias and each use of a fragment counted (validation holds
    #: the loop about 50 us per field, more for copies of one field). Introspection: 227.
    max_fields: int = 500
    anonymous_max_fields: int = 400
    #: Database reads a document asks for (``server.limits.field_cost``): the README's
    #: walk from the province to a grid's residents costs 10, the tests' city query 21.
    max_cost: int = 200
    anonymous_max_cost: int = 20
    #: Longest chain of fragments spreading fragments (introspection: 3).
    max_fragment_depth: int = 10
    #: Objects one operation may ask for (``RequestContext.charge``).
    max_objects: int = 20_000
    #: Queries over GET (``/graphql?query=...``), as the GraphQL-over-HTTP specification
    #: expects; mutations never (``docs/HTTP.md``). ``WANGGE_ALLOW_GET=false`` turns it off.
    allow_get: bool = True

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
                                ("lookup_quota", "WANGGE_LOOKUP_QUOTA", int), ("timezone", "WANGGE_TIMEZONE", _zone),
                                ("reading_windows", "WANGGE_READING_WINDOWS", _windows),
                                ("allow_get", "WANGGE_ALLOW_GET", _flag),
                                *((name, "WANGGE_" + name.upper(), int) for name in LIMIT_FIELDS)):
            if os.environ.get(env):
                values[name] = _parse(env, kind, os.environ[env])
        values.update(overrides)
        return cls(**values)
