"""GraphQL of reloading the policies, the one change to the authorisation rules the API
offers (the rule and its reasons: ``resolvers.policy``)."""

from __future__ import annotations

import strawberry

from resolvers.policy import reload_policies
from schema.extend import fields_of
from schema.mutations import Result, mutation


def _reloaded(field: str):
    return lambda _info, done: getattr(done, field)


@fields_of("Mutation")
@strawberry.type
class PolicyMutation:
    reload_policies = mutation(
        reload_policies, "Re-read policies.csv. A file that does not load leaves the running policies in force and is "
        "reported (code INVALID_POLICY).",
        results=(Result("version", int, "the policy version now in force", convert=_reloaded("version"),
                        field_description="The policy version now in force; other server processes switch on their next request."),
                 Result("fingerprint", str, "its fingerprint", convert=_reloaded("fingerprint"),
                        field_description="SHA-256 of the policy file loaded."),
                 Result("rule_count", int, "its rule count", convert=_reloaded("rule_count"),
                        field_description="Number of `p` rules loaded.")),
        payload_description="The policy version now in force, or why the running policies were kept.")
