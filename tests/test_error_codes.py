"""Every code the API can answer is one member of ``db.errors.ErrorCode``, documented twice.

The codes used to be strings spread over the server, the domain errors and the schema
(``UserError.code: String!``), and ``docs/HTTP.md`` listed some of them with "...". Now the
enum is the list: the domain errors and every place that writes ``extensions.code`` take
their code from it, an error carrying any other code is answered as a bug, the SDL shows
the enum with a description per member, and the table in ``docs/HTTP.md`` names exactly
its members.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from graphql import GraphQLError, build_schema

from db.errors import DomainError, ErrorCode

ROOT = Path(__file__).resolve().parent.parent
CODES = {code.value for code in ErrorCode}
#: A backticked name in the docs that is written like an error code.
CODE_WORDS = {"TOO", "NOT", "BAD", "INVALID", "EXCEEDED", "UNAVAILABLE", "FAILED", "ERROR", "DENIED", "REFUSED"}


def test_each_member_is_named_as_its_wire_value_and_described():
    # Strawberry answers an enum by its name, JSON clients compare the value: the two must be one.
    assert all(code.name == code.value for code in ErrorCode)
    assert all(code.description and code.description.strip() for code in ErrorCode)
    assert {"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "CONFLICT", "UNAUTHENTICATED"} <= CODES


def _http_table_codes() -> set[str]:
    text = (ROOT / "docs" / "HTTP.md").read_text(encoding="utf-8")
    table = text.split("| HTTP | code | when |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows, "the error table of docs/HTTP.md was not found"
    return {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row[2])}


def test_the_table_in_docs_http_names_every_code_and_no_other():
    documented = _http_table_codes()
    assert documented - CODES == set(), "documented codes the enum does not have"
    assert CODES - documented == set(), "codes missing from the table of docs/HTTP.md"


def test_codes_named_anywhere_in_the_docs_are_members():
    """A net for prose: a backticked name written like a code (``..._TOO_...``, ``..._FAILED``) is one."""
    unknown = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for name in re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", path.read_text(encoding="utf-8")):
            if CODE_WORDS & set(name.split("_")) and name not in CODES and not name.startswith("WANGGE_"):
                unknown.setdefault(path.name, set()).add(name)
    assert not unknown, unknown


def test_the_committed_sdl_has_the_enum_and_user_errors_use_it():
    sdl = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    enum = sdl.type_map["ErrorCode"]
    assert set(enum.values) == CODES
    assert all(value.description == ErrorCode[name].description for name, value in enum.values.items())
    assert str(sdl.type_map["UserError"].fields["code"].type) == "ErrorCode!"


def _modules():
    for package in ("db", "authz", "resolvers", "schema", "server"):
        for info in pkgutil.iter_modules([str(ROOT / package)]):
            if not info.ispkg:  # db.migrations runs Alembic when imported
                yield f"{package}.{info.name}"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_domain_error_carries_a_member():
    for name in _modules():
        importlib.import_module(name)
    errors = list(_subclasses(DomainError))
    assert len(errors) >= 8  # the ones in db.errors, InputErrors, InvalidPolicy, ...
    assert [e for e in [DomainError, *errors] if not isinstance(e.code, ErrorCode)] == []


def test_an_error_with_a_code_outside_the_enum_is_answered_as_a_bug():
    from server.errors import classify, client_code

    made_up = GraphQLError("refused", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"})
    assert client_code(made_up) is None
    assert classify(made_up, production=True).extensions["code"] == "INTERNAL_SERVER_ERROR"
    known = GraphQLError("too many", extensions={"code": "TOO_MANY_FIELDS", "limit": 3})
    assert client_code(known) is ErrorCode.TOO_MANY_FIELDS
    assert classify(known, production=True).extensions == {"code": "TOO_MANY_FIELDS", "limit": 3}


@pytest.mark.parametrize("status, code", [(400, "BAD_REQUEST"), (405, "METHOD_NOT_ALLOWED"), (418, "BAD_REQUEST")])
def test_refusals_outside_graphql_write_the_members_value(status, code):
    import json

    from server.http import refusal

    body = json.loads(refusal(status, "no").body)
    assert body == {"data": None, "errors": [{"message": "no", "extensions": {"code": code}}]}


def test_payload_errors_name_python_style_fields_in_camel_case():
    from db.errors import InvalidField
    from db.names import camel
    from schema.errors import user_errors_from

    assert [camel(n) for n in ("age_min", "id_number", "areaCode", "code", "", None)] == [
        "ageMin", "idNumber", "areaCode", "code", "", None]
    (error,) = user_errors_from(InvalidField("area_code", "no such area"))
    assert (error.field, error.code) == ("areaCode", ErrorCode.BAD_USER_INPUT)
