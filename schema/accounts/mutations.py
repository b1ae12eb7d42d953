"""GraphQL of the admin mutations on accounts: creating users, granting and revoking roles,
deactivating and reactivating accounts.

The rules (who may grant what) live in ``resolvers/accounts/admin.py``; this module only
shapes answers. Mutations answer a payload whose ``errors`` list carries expected failures
(``BAD_USER_INPUT``, ``FORBIDDEN``, ``NOT_FOUND``, ``CONFLICT``); an anonymous caller gets
a GraphQL error with ``extensions.code`` ``UNAUTHENTICATED``.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import accounts as rows
from resolvers.accounts import admin
from resolvers.accounts import users as accounts
from resolvers.global_ids import decode_id
from schema.accounts.types import GrantType, UserType
from schema.extend import fields_of
from schema.mutations import Result, mutation


@strawberry.input(description="A new account and its first grant.")
class CreateUserInput:
    username: str = strawberry.field(description="3-64 characters: a-z 0-9 _ . -")
    display_name: str
    password: str = strawberry.field(description="At least 8 characters.")
    role: str
    area_code: str
    valid_until: datetime | None = strawberry.field(default=None, description="End of the grant, for temporary teams.")


async def _created_grant(info, user: rows.User) -> "GrantType | None":
    grants = await accounts.loaders(info.context).grants.load((user.id, True))
    return GrantType.from_row(*grants[0]) if grants else None


async def _reloaded_grant(info, grant: rows.AreaGrant) -> GrantType:
    found = await GrantType.resolve_nodes(info=info, node_ids=[grant.id])
    return found[0] or GrantType.from_row(grant)


def _user_id(user_id) -> tuple:
    return (decode_id(user_id, "User", "userId"),)


GRANT = Result("grant", GrantType, "the grant", convert=_reloaded_grant, field_description="The grant; null on failure.")
USER = Result("user", UserType, "the account", field_description="The account; null on failure.")
OPTIONAL = {"valid_from": None, "valid_until": None}


@fields_of("Mutation")
@strawberry.type
class AccountMutation:
    create_user = mutation(
        admin.create_user, "Create an account holding one role in one area (never a role stronger than yours).",
        arguments={"input": CreateUserInput},
        to_args=lambda input: (admin.NewUser(input.username, input.display_name, input.password, input.role,
                                             input.area_code, input.valid_until),),
        results=(USER, Result("grant", GrantType, "its first grant", convert=_created_grant,
                              field_description="Its first grant; null on failure.")),
        payload_description="The account created and its first grant, or why nothing was created.")
    grant_role = mutation(
        admin.grant_role, "Give a user a role in an area, optionally from/until a time (never a role stronger than "
        "yours; not to yourself).",
        arguments={"user_id": strawberry.ID, "role": str, "area_code": str, "valid_from": datetime | None,
                   "valid_until": datetime | None}, defaults=OPTIONAL,
        to_args=lambda user_id, role, area_code, valid_from, valid_until: (admin.NewGrant(
            _user_id(user_id)[0], role, area_code, valid_from, valid_until),),
        results=GRANT, payload="GrantPayload", payload_description="The grant made or revoked, or why nothing changed.")
    revoke_grant = mutation(
        admin.revoke_grant, "End a grant now (only one you could have made: inside your area, not stronger than your "
        "role, ending no later than your own rights to grant it).",
        arguments={"grant_id": strawberry.ID}, to_args=lambda grant_id: (decode_id(grant_id, "Grant", "grantId"),),
        results=GRANT, payload="GrantPayload", payload_description="The grant made or revoked, or why nothing changed.")
    deactivate_user = mutation(
        admin.deactivate_user, "Deactivate an account and end its logins (only if every role it holds is one you "
        "could have granted).",
        arguments={"user_id": strawberry.ID}, to_args=_user_id, results=USER, payload="UserPayload",
        payload_description="The account changed, or why nothing changed.")
    reactivate_user = mutation(
        admin.reactivate_user, "Switch a deactivated account back on (only if every role it holds is one you could "
        "have granted). Its old logins stay ended.",
        arguments={"user_id": strawberry.ID}, to_args=_user_id, results=USER, payload="UserPayload",
        payload_description="The account changed, or why nothing changed.")
