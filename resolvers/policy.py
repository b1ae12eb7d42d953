"""``reloadPolicies``: read ``policies.csv`` again, here now and in every process soon.

The file is deployment-wide, so reloading it is a province-level act: the caller needs
``policy update`` covering a whole province (in the shipped policies, a province admin; a
district admin holds ``policy update`` only for their district and is refused).

The new enforcer is built first; a file that does not parse (or names an unknown resource
or action) leaves the running policies untouched and is reported. Otherwise the
``policy_state`` row's version is bumped in the same transaction as the audit row; every
other process compares that version on its next request (``server.app.refresh_policies``)
and reloads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select, update

from authz.enforcer import load_enforcer, policy_fingerprint
from db.accounts import PolicyState
from db.base import utcnow
from db.errors import DomainError, ErrorCode, Forbidden
from resolvers.audit import PROVINCE_DIGITS
from resolvers.unit_of_work import Requires, UnitOfWork, command


class InvalidPolicy(DomainError):
    code = ErrorCode.INVALID_POLICY


@dataclass
class Reloaded:
    version: int
    fingerprint: str
    rule_count: int


WHOLE_PROVINCE = "a whole province"


@command(Requires("policy", "update", WHOLE_PROVINCE))
async def reload_policies(w: UnitOfWork) -> Reloaded:
    ctx = w.ctx
    if not any(len(p) == PROVINCE_DIGITS for p in ctx.scope.prefixes("policy", "update")):
        raise Forbidden("reloading the policies needs 'policy update' for a whole province")
    w.noted("policy", "update", WHOLE_PROVINCE)
    path = ctx.settings.policies_path
    try:
        enforcer, fingerprint = await asyncio.to_thread(lambda: (load_enforcer(path), policy_fingerprint(path)))
    except Exception as exc:  # noqa: BLE001 - any failure to load keeps the running policies
        raise InvalidPolicy(f"policies not reloaded, the running ones stay in force: {exc}") from None
    rules = len(enforcer.get_policy())
    now = utcnow()
    session = w.session
    bumped = await session.execute(
        update(PolicyState).where(PolicyState.id == 1)
        .values(version=PolicyState.version + 1, fingerprint=fingerprint, updated_at=now)
        .execution_options(synchronize_session=False))
    if bumped.rowcount == 0:
        session.add(PolicyState(id=1, version=1, fingerprint=fingerprint, updated_at=now))
        await session.flush()
    version = (await session.execute(select(PolicyState.version).where(PolicyState.id == 1))).scalar_one()
    w.audit("policy.reload", resource="policy",
            detail={"version": version, "fingerprint": fingerprint, "rules": rules, "path": str(path)})
    w.after_commit(lambda: _install(ctx.app_state, enforcer, version))
    return Reloaded(version, fingerprint, rules)


def _install(state, enforcer, version: int) -> None:
    """This process switches at once; the others on their next request (the version row)."""
    state.enforcer, state.policy_version = enforcer, version
