"""Declared mutations: one helper turns a command into its GraphQL field and payload.

A domain's schema module writes, for each command (``resolvers.unit_of_work.command``)::

    create_resident = mutation(people.create_resident, "Register a resident in a household.",
                               arguments={"input": CreateResidentInput},
                               results=Result("resident", ResidentType, "the new resident"))

and gets, from the command's declaration and these few words:

- the payload type (``CreateResidentPayload``: the results, null on failure, and
  ``errors: [UserError!]!``, empty on success): one payload style for every mutation;
- the permission sentence appended to the field's description in the SDL ("Requires
  `resident create` at the area of `householdId`."), so a frontend reads who may call it;
- one answer for anonymous callers: every mutation whose command is not ``public`` is
  refused with HTTP 401 before anything runs (``server.lifecycle.RequireLogin`` reads
  :func:`public_mutations`);
- its place in the generated refusal test (``tests/test_declared_mutations.py``).

Expected failures come back in ``errors`` (``schema.errors.UserError``); the GraphQL
``errors`` list is for bugs and for refusals before execution.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional

import strawberry

from db.errors import DomainError
from db.names import camel
from resolvers.unit_of_work import Command, declaration, run_command
from schema.errors import UserError, user_errors_from

#: Marks an argument without a default (required in the SDL).
REQUIRED = inspect.Parameter.empty

ERRORS = "Why nothing was written; empty on success."
#: The description of every update input's ``version``.
VERSION_SENT = "The `version` you read; a stale one is refused with CONFLICT."


@dataclass(frozen=True)
class Result:
    """One field of a payload: its name, GraphQL type, and how the command's value fills it."""

    name: str
    type: Any
    #: How the payload's description names it ("the new resident").
    description: str
    #: ``convert(info, value)``, possibly async; default ``type.from_row(value)``.
    convert: Callable | None = None
    #: The field's own description; default "<description>; null on failure."
    field_description: str | None = None


@dataclass(frozen=True)
class DeclaredMutation:
    graphql_name: str
    command: Command
    payload: type


#: Every mutation built here, by GraphQL name (for RequireLogin and the generated tests).
DECLARED: dict[str, DeclaredMutation] = {}
_PAYLOADS: dict[str, type] = {}


def payload_type(name: str, results: tuple[Result, ...], description: str) -> type:
    """The payload class ``name`` (built once; mutations may share one, such as ``GrantPayload``)."""
    known = _PAYLOADS.get(name)
    if known is not None:
        return known
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for r in results:
        annotations[r.name] = Optional[r.type]
        namespace[r.name] = strawberry.field(
            default=None, description=r.field_description or f"{r.description[:1].upper()}{r.description[1:]}; null on failure.")
    annotations["errors"] = list[UserError]
    namespace["errors"] = strawberry.field(default_factory=list, description=ERRORS)
    cls = strawberry.type(type(name, (), namespace), name=name, description=description)
    _PAYLOADS[name] = cls
    return cls


def mutation(operation, description: str, *, arguments: dict[str, Any] | None = None,
             defaults: dict[str, Any] | None = None, results: Result | tuple[Result, ...] = (),
             to_args: Callable[..., tuple] | None = None, payload: str | None = None,
             payload_description: str | None = None, name: str | None = None):
    """The GraphQL field running the command ``operation`` (see the module docstring).

    ``arguments`` are the field's arguments and their types (``defaults`` gives the
    optional ones a default); ``to_args(**arguments)`` turns them into the command's
    arguments (default: their values, in order) and may raise a ``DomainError`` for a
    malformed one, answered in ``errors`` like any other. ``name`` is the field's GraphQL
    name when it is not the command's name in camel case.
    """
    declared = declaration(operation)
    graphql_name = name or camel(declared.name)
    results = (results,) if isinstance(results, Result) else tuple(results)
    arguments, defaults = dict(arguments or {}), dict(defaults or {})
    payload_name = payload or f"{graphql_name[:1].upper()}{graphql_name[1:]}Payload"
    what = " and ".join(r.description for r in results) or "done"
    payload_cls = payload_type(payload_name, results, payload_description or
                               f"Result of {graphql_name}: {what}, or the errors and nothing written.")
    to_args = to_args or (lambda **kw: tuple(kw.values()))

    async def resolve(self, info, **kwargs):
        try:
            args = to_args(**kwargs)
        except DomainError as exc:
            return payload_cls(errors=user_errors_from(exc))
        done = await run_command(info.context, operation, *args)
        if done.errors:
            return payload_cls(errors=[e for err in done.errors for e in user_errors_from(err)])
        filled = {}
        for r in results:
            value = r.convert(info, done.value) if r.convert else (r.type.from_row(done.value) if done.value else None)
            filled[r.name] = await value if inspect.isawaitable(value) else value
        return payload_cls(**filled)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                  inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=strawberry.Info)]
    parameters += [inspect.Parameter(arg, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                     default=defaults.get(arg, REQUIRED))
                   for arg, annotation in arguments.items()]
    resolve.__signature__ = inspect.Signature(parameters, return_annotation=payload_cls)
    resolve.__annotations__ = {"info": strawberry.Info, **arguments, "return": payload_cls}
    resolve.__name__ = declared.name
    DECLARED[graphql_name] = DeclaredMutation(graphql_name, declared, payload_cls)
    return strawberry.mutation(resolver=resolve, description=_with_rights(description, declared))


def _with_rights(description: str, declared: Command) -> str:
    if declared.public:
        return f"{description} No login needed."
    if not declared.requires:
        return f"{description} Needs a login."
    return f"{description} Requires " + "; ".join(r.sentence() for r in declared.requires) + "."


def public_mutations() -> frozenset[str]:
    """GraphQL names of the mutations an anonymous caller may run."""
    return frozenset(name for name, m in DECLARED.items() if m.command.public)


def input_mutation(operation, description: str, input_type: type, result: Result):
    """The usual shape: one argument ``input`` of ``input_type``, one result besides ``errors``."""
    return mutation(operation, description, arguments={"input": input_type}, results=result)
