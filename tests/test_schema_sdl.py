"""The committed ``schema.graphql`` is the schema the code builds: frontends read the file."""

from __future__ import annotations

from pathlib import Path

from server.graphql_schema import schema

SDL_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_sdl_matches_the_code():
    committed = SDL_FILE.read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", (
        "schema.graphql is out of date: run `wangge export-schema --output schema.graphql`"
    )


def test_every_type_and_field_is_described():
    """Frontend teams build on the SDL: every object type and field says what it is."""
    from graphql import GraphQLObjectType

    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(gql_type, GraphQLObjectType):
            continue
        if name.endswith(("Edge", "Connection")) or name in {"Query", "Mutation", "PageInfo"}:
            continue
        if not gql_type.description:
            missing.append(name)
    assert not missing, f"types without a description: {missing}"


def test_fields_of_the_registry_read_types_are_described():
    from graphql import GraphQLObjectType

    read_types = ["Area", "AreaStats", "Building", "Household", "Resident", "ResidentFilterInput"]
    missing = {
        name: [f for f, fd in schema._schema.type_map[name].fields.items() if not fd.description]
        for name in read_types
    }
    assert not any(missing.values()), missing
    assert isinstance(schema._schema.type_map["Area"], GraphQLObjectType)
