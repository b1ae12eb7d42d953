"""The database key inside a Relay global ID a mutation was given, or ``InvalidField``.

One rule for every argument that names a record by its global ID (``userId``,
``grantId``, a resident's ``id``, ``householdId``, ...): the ID must decode, its digits
must be a key the ``integer`` columns can hold (``db.validators.parse_db_id``; a huge
number used to reach the driver and fail as INTERNAL_SERVER_ERROR, "integer out of
range"), and it must name the expected type. Account mutations and registry mutations
each had their own copy, with their own messages.
"""

from __future__ import annotations

from strawberry import relay

from db.errors import InvalidField
from db.validators import parse_db_id


def decode_id(value, type_name: str, field: str) -> int:
    """The integer key inside a global ID of ``type_name``; ``InvalidField(field, ...)`` otherwise."""
    try:
        gid = relay.GlobalID.from_id(value)
    except Exception:  # noqa: BLE001 - any decoding failure means "not an ID of ours"
        raise InvalidField(field, "not a valid ID") from None
    key = parse_db_id(gid.node_id)
    if key is None:
        raise InvalidField(field, "not a valid ID")
    if gid.type_name != type_name:
        raise InvalidField(field, f"expected a {type_name} ID, got a {gid.type_name} ID")
    return key
