"""Refuse expensive requests early: before the work that makes them expensive.

A request that is cheap to send must not be expensive to refuse. The server runs one
event loop per process: while it lexes, parses or validates one document, no other
request (``/healthz`` included) gets an answer. Found by review, each beside ``/healthz``:
900 copies of one field (graphql-core's ``OverlappingFieldsCanBeMerged`` is quadratic in
fields of one name) stalled it for seconds; 1,000 aliases of ``viewer``, ``stats`` or
``totalCount`` (none of them counted by the object budget) for 2-10 s; a 20 MiB body was
read and parsed whole; a body nested 1,000 deep answered HTTP 500 and 300 chained
fragments "maximum recursion depth exceeded", both without a code.

So every limit here is checked before the stage it protects, each with its own
``extensions.code`` and a ``Settings`` field (``WANGGE_*`` variable):

====================  ==========================  ================================
stage protected       limit                       refused with
====================  ==========================  ================================
reading the body      bytes (Content-Length, and  HTTP 413 ``REQUEST_TOO_LARGE``
                      counted while reading)
``json.loads``        nesting of ``[`` / ``{``    HTTP 400 ``JSON_TOO_DEEP``
parsing               tokens, counted before and  ``TOO_MANY_TOKENS``
                      by the parser (max_tokens)
parsing               selection nesting the       ``QUERY_TOO_DEEP``
                      parser cannot recurse into
validation            fragment spread depth       ``FRAGMENTS_TOO_DEEP``
validation            fields, over fragments      ``TOO_MANY_FIELDS``
execution             database-reading fields     ``QUERY_TOO_COMPLEX``
execution (rows)      ``RequestContext.charge``   ``QUERY_TOO_LARGE`` (unchanged)

Refusals before GraphQL runs are HTTP errors; document refusals answer like any
GraphQL error (HTTP 200, ``data: null``), with the ``limit`` in ``extensions``.
====================  ==========================  ================================

The body limits (``server.body_limits``) run in ``server.app.WanggeGraphQL`` before a
pooled connection is taken (``guard_request``), and so do the document limits of a request without an
``Authorization`` header; the document limits of the others in ``RequestLimits``, a
schema extension, once the token is checked. Callers without a valid token (none, or one
that did not authenticate) get tighter limits: they can only log in, refresh a token and
read the schema (the introspection query of the vendored GraphiQL is 181 tokens and 227
fields, fragments expanded, in a 2 KiB body).

Why not strawberry's own ``MaxTokensLimiter`` and ``MaxAliasesLimiter``: the first sets
the same ``max_tokens`` parse option as here, but with one limit for everybody and a
code-less syntax error; the second is a validation *rule*, so it runs inside the very
validation pass whose cost it should prevent, and counts aliases only (900 copies of one
field have none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension

from db.errors import ErrorCode
from server.document_cache import DOCUMENTS, Verdict

# -- the document -----------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentLimits:
    tokens: int
    fields: int
    cost: int
    fragment_depth: int


def document_limits(settings, anonymous: bool) -> DocumentLimits:
    if anonymous:
        return DocumentLimits(settings.anonymous_max_tokens, settings.anonymous_max_fields,
                              settings.anonymous_max_cost, settings.max_fragment_depth)
    return DocumentLimits(settings.max_tokens, settings.max_fields, settings.max_cost, settings.max_fragment_depth)


def _refusal(code: ErrorCode, message: str, limit: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value, "limit": limit})


#: Object-returning fields of these types hand out what their parent already loaded.
_FREE_PARENTS = frozenset({"PageInfo", "Viewer", "AreaStats", "Permission", "UserError"})
#: Leaf fields that are a database read of their own.
_COSTLY_LEAVES = frozenset({"totalCount"})


def field_cost(parent, field_def, name: str) -> int:
    """The static cost of one selection of a field: 1 if resolving it may read the database.

    Rows are not counted here (``RequestContext.charge`` counts them when pages load);
    this counts the reads a document asks for however few rows they return, which the
    object budget did not see: a ``totalCount``, ``stats``, ``viewer``, a ``first: 0``
    page, a ``node`` lookup. Every alias and every use of a fragment counts again.

    The rule: an object-returning field costs 1 (it resolves through a loader or a
    query), except on connection, edge and payload types and the few types above, which
    hand out objects already loaded; a leaf costs nothing, except ``totalCount``;
    introspection (``__schema``, ``__type``, ``__typename``) costs nothing.
    """
    if name.startswith("__") or (parent is not None and parent.name.startswith("__")):
        return 0
    if field_def is None:  # unknown here: validation will say so
        return 0
    if is_leaf_type(get_named_type(field_def.type)):
        return 1 if name in _COSTLY_LEAVES else 0
    pname = parent.name
    if pname in _FREE_PARENTS or pname.endswith(("Connection", "Edge", "Payload")):
        return 0
    return 1


@dataclass
class _Tally:
    fields: int = 0
    cost: int = 0


def _spreads(selection_set) -> list[str]:
    """Names of the fragments spread anywhere in a selection set (no recursion)."""
    names, stack = [], [selection_set]
    while stack:
        for sel in stack.pop().selections:
            if isinstance(sel, FragmentSpreadNode):
                names.append(sel.name.value)
            elif sel.selection_set is not None:
                stack.append(sel.selection_set)
    return names


def _fragment_order(fragments: dict[str, FragmentDefinitionNode], limit: int) -> list[str] | GraphQLError:
    """Fragments in dependency order (spread ones first), or ``FRAGMENTS_TOO_DEEP``.

    Depth is the longest chain of spreads. An explicit stack instead of recursion: 300
    chained fragments made graphql-core and the depth rule exceed the recursion limit.
    A cycle is not followed (validation reports it); a long cycle is a long chain.
    """
    edges = {name: _spreads(f.selection_set) for name, f in fragments.items()}
    depth: dict[str, int] = {}
    order: list[str] = []
    on_path: set[str] = set()
    for root in fragments:
        if root in depth:
            continue
        stack = [(root, iter(edges[root]))]
        on_path.add(root)
        while stack:
            name, children = stack[-1]
            child = next((c for c in children if c in fragments and c not in depth and c not in on_path), None)
            if child is not None and len(stack) < limit:
                on_path.add(child)
                stack.append((child, iter(edges[child])))
                continue
            depth[name] = 1 + max((depth[c] for c in edges[name] if c in depth), default=0)
            if child is not None or depth[name] > limit:
                return _refusal(ErrorCode.FRAGMENTS_TOO_DEEP, f"fragments spread each other more than {limit} deep", limit)
            stack.pop()
            on_path.discard(name)
            order.append(name)
    return order


def _tally(selection_set, parent, schema, fragment_tallies: dict[str, _Tally], cap: int) -> _Tally:
    """Fields and cost of a selection set, each fragment spread counted with its whole tally."""
    tally = _Tally()
    stack = [(selection_set, parent)]
    while stack and tally.fields <= cap:
        selection_set, parent = stack.pop()
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                fields = getattr(parent, "fields", None)
                field_def = fields.get(name) if fields is not None else None
                tally.fields += 1
                tally.cost += field_cost(parent, field_def, name)
                if sel.selection_set is not None:
                    stack.append((sel.selection_set, get_named_type(field_def.type) if field_def else None))
            elif isinstance(sel, InlineFragmentNode):
                cond = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                stack.append((sel.selection_set, cond))
            elif isinstance(sel, FragmentSpreadNode):
                spread = fragment_tallies.get(sel.name.value)
                if spread is not None:  # unknown or cyclic: validation reports it
                    tally.fields += spread.fields
                    tally.cost += spread.cost
    tally.fields, tally.cost = min(tally.fields, cap + 1), min(tally.cost, cap + 1)  # 4^10 stays small
    return tally


def check_document(document, schema, limits: DocumentLimits) -> GraphQLError | None:
    """``FRAGMENTS_TOO_DEEP``, ``TOO_MANY_FIELDS`` or ``QUERY_TOO_COMPLEX``, or None.

    Runs on the parsed document before validation, in time linear in its size: each
    fragment's fields are counted once and added wherever it is spread (a fragment
    spreading another four times, ten deep, stands for a million fields; walking them
    would be the attack). All operations of the document count, since validation
    checks all of them.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    order = _fragment_order(fragments, limits.fragment_depth)
    if isinstance(order, GraphQLError):
        return order
    cap = max(limits.fields, limits.cost)
    tallies: dict[str, _Tally] = {}
    for name in order:
        frag = fragments[name]
        tallies[name] = _tally(frag.selection_set, schema.get_type(frag.type_condition.name.value), schema,
                               tallies, cap)
    total = _Tally()
    for op in document.definitions:
        if isinstance(op, OperationDefinitionNode):
            t = _tally(op.selection_set, schema.get_root_type(op.operation), schema, tallies, cap)
            total.fields += t.fields
            total.cost += t.cost
    if total.fields > limits.fields:
        return _refusal(ErrorCode.TOO_MANY_FIELDS, f"the query selects more than {limits.fields} fields "
                        "(aliases and fragment uses each count)", limits.fields)
    if total.cost > limits.cost:
        return _refusal(ErrorCode.QUERY_TOO_COMPLEX, f"the query asks for more than {limits.cost} database reads "
                        "(totalCount, stats, viewer, pages and lookups each count, per alias)", limits.cost)
    return None


def _limits_of(context) -> DocumentLimits:
    from server.settings import Settings

    settings = getattr(context, "settings", None) or Settings(database_url="")
    return document_limits(settings, getattr(context, "user", None) is None)


class RequestLimits(SchemaExtension):
    """The document limits once the caller is known: tokens before and while parsing;
    fragments, fields and cost before validation.

    Refusals are pre-execution errors (HTTP 200, ``data: null``) with a code and the
    ``limit``, so a client can tell which one it hit. Setting ``pre_execution_errors``
    in ``on_validate`` makes strawberry skip validation (``_run_validation``).
    """

    verdict: Verdict | None = None

    def on_parse(self):
        ec = self.execution_context
        limits = _limits_of(ec.context)
        self.verdict = DOCUMENTS.get(ec.query, limits)
        if self.verdict is not None:  # parsed, limited and validated before: nothing to do
            ec.graphql_document = self.verdict.document
            yield
            return
        parsed = _parsed_before(ec)
        counted_over = False
        if parsed is not None:
            ec.graphql_document = parsed  # checked with the anonymous limits already
            ec.parse_options["max_tokens"] = limits.tokens
        elif too_many_tokens(ec.query or "", limits.tokens):
            counted_over = True
            ec.parse_options["max_tokens"] = 0  # known to be over: the parser stops at the first token
        else:
            ec.parse_options["max_tokens"] = limits.tokens  # the exact count, graphql-core's own
        yield
        if ec.graphql_document is None:
            for error in ec.pre_execution_errors or ():
                explain_parse_failure(error, limits, counted_over=counted_over)

    def on_validate(self):
        ec = self.execution_context
        if self.verdict is not None:
            ec.pre_execution_errors = list(self.verdict.errors)  # strawberry then skips validation
            yield
            return
        limits = _limits_of(ec.context)
        refusal = None
        if ec.graphql_document is not None and ec.pre_execution_errors is None \
                and ec.graphql_document is not _parsed_before(ec):
            refusal = check_document(ec.graphql_document, ec.schema._schema, limits)
            if refusal is not None:
                ec.pre_execution_errors = [refusal]  # strawberry then skips validation
        yield
        if ec.graphql_document is not None and ec.pre_execution_errors is not None:
            DOCUMENTS.put(ec.query, limits, Verdict(ec.graphql_document, tuple(ec.pre_execution_errors),
                                                    refused=refusal is not None))


def _parsed_before(ec):
    """The document ``guard_request`` parsed for this very query, if it did."""
    request = getattr(ec.context, "request", None)
    parsed = getattr(request, "scope", {}).get(PARSED)
    if parsed is not None and parsed[0] == ec.query and getattr(ec.context, "user", None) is None:
        return parsed[1]
    return None


def explain_parse_failure(error: GraphQLError, limits: DocumentLimits, *, counted_over: bool = False) -> bool:
    """Give a parse failure caused by a limit its code (in place: strawberry answers this object).

    graphql-core reports the token limit, and a selection nested too deep for the parser's
    recursion, as syntax errors (older versions: the latter as a bare ``RecursionError``,
    an internal error logged with its traceback). Neither is a bug nor a typo.
    """
    if isinstance(error.original_error, RecursionError) or (
            isinstance(error, GraphQLSyntaxError) and "nested too deeply" in error.message):
        error.message = TOO_DEEP
        error.original_error = None
        error.extensions = {"code": ErrorCode.QUERY_TOO_DEEP.value}
        return True
    if isinstance(error, GraphQLSyntaxError) and (
            counted_over or f"more than {limits.tokens} tokens" in error.message):
        error.message = f"the query has more than {limits.tokens} tokens"
        error.extensions = {"code": ErrorCode.TOO_MANY_TOKENS.value, "limit": limits.tokens}
        error.locations = None
        return True
    return False


#: One match per GraphQL token of a valid document, comments included (as graphql-core
#: counts them for ``max_tokens``): block strings, strings, comments, names, numbers,
#: ``...`` and punctuators; commas and white space are not tokens.
_TOKEN = re.compile(r'"""(?:\\"""|(?!""")[\s\S])*"""|"(?:\\.|[^"\\\n\r])*"|#[^\n\r]*'
                    r"|[_A-Za-z][_0-9A-Za-z]*|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.\.\.|[!$&():=@\[\]{}|]")


def too_many_tokens(query: str, limit: int) -> bool:
    """Whether ``query`` has over ``limit`` tokens, told by a regular expression before parsing.

    Parsing costs about 6 us a token; this count about a twentieth of that, and stops at
    the limit. A valid document counts exactly as graphql-core counts it, so nothing the
    parser would accept is refused; a document under the count still meets the parser's
    own ``max_tokens``. A document no longer than the limit cannot exceed it.
    """
    if len(query) <= limit:
        return False
    return sum(1 for _ in islice(_TOKEN.finditer(query), limit + 1)) > limit


TOO_DEEP = "the query nests selections too deeply to be read"



#: Where ``server.body_limits.guard_request`` leaves the document it parsed, for
#: ``RequestLimits`` to reuse.
PARSED = "wangge.document"
