"""Building the one process-wide Casbin enforcer, and reading facts out of it.

Only the ``p`` rules of ``policies.csv`` are loaded (a few dozen lines, milliseconds);
who holds which role where is answered per request by
:class:`authz.role_manager.GrantRoleManager`. The policy file is checked against the
known resources and actions on load, because a misspelt action would otherwise be a
rule that silently never applies.
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import casbin
from casbin.persist.adapters import FileAdapter

import db.models  # noqa: F401 - every table declared, so every table's resource is known
from authz.role_manager import GrantRoleManager
from db.registration import OTHER_RESOURCES, table_resources

#: The kinds of record a rule can name (see the header of ``policies.csv``): the resource
#: of every declared place-bound table (``db.registration``), and the few that are not tables.
RESOURCES: frozenset[str] = table_resources() | frozenset(OTHER_RESOURCES)
#: The things a rule can allow.
ACTIONS: frozenset[str] = frozenset(
    {"read", "read_pii", "create", "update", "delete", "approve", "export", "grant", "lookup", "reactivate"}
)

#: Environment variable naming the policy file to load instead of the repository's.
POLICIES_ENV = "WANGGE_POLICIES"


def default_policies_path() -> Path:
    """``$WANGGE_POLICIES``, else ``policies.csv`` next to the ``authz`` package, else in the cwd."""
    env = os.environ.get(POLICIES_ENV)
    if env:
        return Path(env)
    beside_package = Path(__file__).resolve().parent.parent / "policies.csv"
    if beside_package.is_file():
        return beside_package
    return Path.cwd() / "policies.csv"


def _model() -> casbin.Model:
    model = casbin.Model()
    model.load_model_from_text(resources.files("authz").joinpath("model.conf").read_text(encoding="utf-8"))
    return model


def load_enforcer(policies_path: str | Path | None = None) -> casbin.Enforcer:
    """An enforcer with our model, the given (or default) policies and :class:`GrantRoleManager`."""
    path = Path(policies_path) if policies_path is not None else default_policies_path()
    if not path.is_file():
        # Casbin's own message for this is "file path cannot be empty".
        raise FileNotFoundError(f"policy file not found: {path}")
    enforcer = casbin.Enforcer(_model(), FileAdapter(str(path)))
    _check_rules(enforcer, path)
    enforcer.set_role_manager(GrantRoleManager())
    # set_role_manager only replaces the enforcer's rm_map; enforce() calls the role
    # manager stored on the model's "g" assertion, which still is the DomainManager
    # built at construction. Rebuilding the links moves ours onto the assertion.
    enforcer.build_role_links()
    if not isinstance(enforcer.model["g"]["g"].rm, GrantRoleManager):  # pragma: no cover - pycasbin change
        raise RuntimeError("pycasbin did not install GrantRoleManager on the model")
    return enforcer


def _check_rules(enforcer: casbin.Enforcer, path: Path) -> None:
    problems = []
    for role, resource, action in enforcer.get_policy():
        if resource not in table_resources() | frozenset(OTHER_RESOURCES):  # tables declared since import too
            problems.append(f"unknown resource '{resource}' in 'p, {role}, {resource}, {action}'")
        if action not in ACTIONS:
            problems.append(f"unknown action '{action}' in 'p, {role}, {resource}, {action}'")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))


def policy_fingerprint(path: str | Path | None = None) -> str:
    """SHA-256 of the policy file, so a process can tell its loaded policy is stale."""
    p = Path(path) if path is not None else default_policies_path()
    return hashlib.sha256(p.read_bytes()).hexdigest()


def role_permissions(enforcer: casbin.Enforcer, role: str) -> frozenset[tuple[str, str]]:
    """The ``(resource, action)`` pairs the policies give ``role``; empty for an unknown role."""
    return frozenset((resource, action) for _, resource, action in enforcer.get_filtered_policy(0, role))


def known_roles(enforcer: casbin.Enforcer) -> frozenset[str]:
    """Every role named by at least one rule."""
    return frozenset(rule[0] for rule in enforcer.get_policy())
