"""Read access to a validated object for the rules that follow the member walk (S0, S3, S4).

§19.3 S3: a cross-field rule is evaluated only when every member it reads is present and has
no ERROR from S1–S2. :meth:`MemberView.ok` answers exactly that: the member exists with a
value reachable through objects/arrays, and no ERROR is located at it or inside it.
"""
from __future__ import annotations

from typing import AbstractSet, Any

from tongban.validators.report import Report
from tongban.validators.rules import MISSING, make_finding


class MemberView:
    __slots__ = ("root", "base", "errors", "sink", "spec")

    def __init__(self, root: Any, base: str, errors: AbstractSet[str], sink: Report, spec: str) -> None:
        self.root = root
        self.base = base          # JSON Pointer of ``root`` within the envelope ("" or /records/i)
        self.errors = errors      # absolute locations holding an ERROR from the member walk
        self.sink = sink          # the report findings go to
        self.spec = spec

    def get(self, path: str) -> Any:
        """The value at ``path`` ("dept/uscc", "materials/0/form"), or MISSING."""
        value = self.root
        if "/" not in path:
            return value.get(path, MISSING) if type(value) is dict else MISSING
        for token in path.split("/"):
            if type(value) is dict:
                if token not in value:
                    return MISSING
                value = value[token]
            elif type(value) is list and token.isdigit() and int(token) < len(value):
                value = value[int(token)]
            else:
                return MISSING
        return value

    def has(self, path: str) -> bool:
        return self.get(path) is not MISSING

    def loc(self, path: str) -> str:
        return f"{self.base}/{path}"

    def ok(self, *paths: str) -> bool:
        """Every path is present, not null, and free of ERRORs at or below it."""
        root = self.root
        if not self.errors and type(root) is dict:
            # the common case (no ERROR from S1–S2): presence and not-null of top-level members is
            # one dict lookup each (None: absent or null); called for every rule of every record
            for path in paths:
                if "/" in path:
                    found = self.get(path)
                    if found is MISSING or found is None:
                        return False
                elif root.get(path) is None:
                    return False
            return True
        value = self.value
        for path in paths:   # a loop, not all(genexpr)
            if value(path) is MISSING:
                return False
        return True

    def value(self, path: str) -> Any:
        """The value at ``path`` when :meth:`ok` holds for it, else MISSING."""
        root = self.root
        value = root.get(path, MISSING) if "/" not in path and type(root) is dict else self.get(path)
        if value is None:
            return MISSING
        if self.errors and value is not MISSING:
            where = self.loc(path)
            prefix = where + "/"
            if where in self.errors or any(e.startswith(prefix) for e in self.errors):
                return MISSING
        return value

    def values(self, *paths: str) -> tuple[Any, ...] | None:
        """The values at ``paths`` when :meth:`ok` holds for all of them, else None."""
        out = tuple(map(self.value, paths))
        return None if MISSING in out else out

    def report(self, rule_id: str, path: str | None, en: str = "", zh: str = "", value: Any = MISSING,
               mask: bool = False) -> None:
        """Report at ``path`` (relative), or at the view's base when ``path`` is None."""
        location = self.base if path is None else self.loc(path)
        self.sink.add(make_finding(rule_id, location, en, zh, value, mask=mask, spec=self.spec))
