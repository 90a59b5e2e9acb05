"""Answers remembered per parsed document: its validation errors, its cost.

graphql-core's document nodes are frozen dataclasses, so hashing one walks the whole tree on
every lookup (about 10 µs for a small query, far more for a large one). The parser cache
(api/parser_cache.py) hands out the same document object for the same query text, so these
memos key on the document's identity instead: each entry holds its document, which keeps the
identity from being reused while the entry lives, and a hit also checks that it is the very
same object. A document parsed again after the parser cache dropped it is a new object and
is answered afresh, with the same result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from graphql import DocumentNode

V = TypeVar("V")

#: What `DocumentMemo.get` answers for a document and detail it does not hold.
MISSING: Any = object()


class DocumentMemo(Generic[V]):
    """At most `maxsize` answers, by (document, detail), the least recently used dropped first.
    `detail` is whatever else the answer depends on (the validation rules, the page sizes)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, Hashable], tuple[DocumentNode, V]] = OrderedDict()

    def get(self, document: DocumentNode, detail: Hashable) -> V:
        """The answer for `document` and `detail`, or MISSING."""
        key = (id(document), detail)
        entry = self._entries.get(key)
        if entry is None or entry[0] is not document:
            return MISSING
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, document: DocumentNode, detail: Hashable, value: V) -> None:
        key = (id(document), detail)
        self._entries[key] = (document, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
