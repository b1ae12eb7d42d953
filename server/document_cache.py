"""Parsed and validated documents, kept per process: clients send the same few queries.

Parsing and validating every request cost 16-21% of the server's CPU, although a
frontend sends the same handful of query texts over and over (variables carry what
changes). Strawberry's ``ParserCache``/``ValidationCache`` cannot be used as they are
here: the document limits (``server.limits``) must run between parsing and validation,
and ``ValidationCache`` would validate a document the limits refused. So the verdict of
both steps is kept together, keyed by the query text and the limits it was checked
under (anonymous callers have tighter ones):

- a document that passed the limits, with its validation errors (none, usually);
- a document the limits refused, with the refusal, so an abuser repeating it is refused
  from the cache, before a connection is taken (``server.body_limits.guard_request``).

Bounded twice, so unique texts cannot grow memory: at most ``maxsize`` entries (least
recently used dropped first), and only texts up to ``max_chars`` characters (a query a
person wrote; a longer one is simply not kept). The schema and the validation rules are
fixed for the life of the process, so an entry never goes stale.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError


@dataclass(frozen=True)
class Verdict:
    document: DocumentNode
    #: The validation errors, or the one refusal of the limits; empty for a valid document.
    errors: tuple[GraphQLError, ...]
    refused: bool = False


class DocumentCache:
    def __init__(self, maxsize: int = 512, max_chars: int = 16_384) -> None:
        self.maxsize, self.max_chars = maxsize, max_chars
        self._entries: OrderedDict[tuple, Verdict] = OrderedDict()

    def get(self, query: str | None, limits) -> Verdict | None:
        if not query or len(query) > self.max_chars:
            return None
        verdict = self._entries.get((query, limits))
        if verdict is not None:
            self._entries.move_to_end((query, limits))
        return verdict

    def put(self, query: str | None, limits, verdict: Verdict) -> None:
        if not query or len(query) > self.max_chars:
            return
        self._entries[(query, limits)] = verdict
        self._entries.move_to_end((query, limits))
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache (one event loop per process, so no lock is needed).
DOCUMENTS = DocumentCache()
