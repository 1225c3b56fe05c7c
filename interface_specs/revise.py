"""Derive a spec folder from the folder of the version it revises plus a list of edits.

A revision of the standard is published as edits to the previous text ("old" → "new"). Its
machine-readable companions are derived the same way: ``revisions/<module>.py`` lists the
edits of each change (JSON operations on schemas and code tables, exact text replacements in
OpenAPI, WSDL/XSD and AsyncAPI documents, new files), and this module applies them to a copy
of the base folder. Every edit must find what it changes — an edit whose ``old`` text or JSON
location is missing stops the derivation — so a change of the base folder that an edit no
longer fits is noticed instead of silently skipped.

    python -m tongban.specs.revise tbs-1.1            # rewrite interface_specs/tbs-1.1/
    python -m tongban.specs.revise tbs-1.1 --check    # exit 1 when the folder differs from a fresh derivation
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPECS_ROOT = Path(__file__).resolve().parent


class EditError(Exception):
    """An edit that does not fit the base files."""


# ----------------------------------------------------------------------------- edit kinds
@dataclass(frozen=True)
class Edit:
    change: int
    file: str


@dataclass(frozen=True)
class Replace(Edit):
    """Replace the exact text ``old`` by ``new``; ``count`` occurrences must exist (0 = at least one, all replaced)."""
    old: str = ""
    new: str = ""
    count: int = 1


@dataclass(frozen=True)
class JsonSet(Edit):
    """Set the value at a JSON pointer; a new member of an object goes after ``after`` (or last)."""
    pointer: str = ""
    value: Any = None
    after: str | None = None
    before: str | None = None
    must_exist: bool | None = None  # True: replace only; False: add only; None: either


@dataclass(frozen=True)
class JsonRemove(Edit):
    pointer: str = ""


@dataclass(frozen=True)
class ListInsert(Edit):
    """Insert ``value`` into the array at ``pointer``, after the element ``after`` (or at the end)."""
    pointer: str = ""
    value: Any = None
    after: Any = None


@dataclass(frozen=True)
class ListRemove(Edit):
    pointer: str = ""
    value: Any = None


@dataclass(frozen=True)
class JsonCopy(Edit):
    """Copy the value at ``source`` to ``pointer`` (a new member, placed after ``after``)."""
    source: str = ""
    pointer: str = ""
    after: str | None = None


@dataclass(frozen=True)
class Create(Edit):
    """A new file: ``value`` (JSON, written like the base files) or ``text``."""
    value: Any = None
    text: str | None = None


@dataclass(frozen=True)
class Rename(Edit):
    """Rename a file of the base folder (``file`` → ``to``)."""
    to: str = ""


@dataclass
class Revision:
    """What a revision module declares."""
    version: str                       # e.g. "TBS-1.1"
    base: str                          # e.g. "TBS-1.0"
    global_replacements: list[tuple[str, str]]   # applied to every text file first (change 1)
    edits: list[Edit]
    keep_unchanged: tuple[str, ...] = ()  # folders copied byte for byte (vendored documents)
    skip: tuple[str, ...] = ()            # base files the revision does not carry over
    notes: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- JSON helpers
def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise EditError(f"JSON pointer {pointer!r} must start with /")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _element(array: list[Any], token: str) -> int | None:
    """The index an array token names: a number, or ``member=value`` (the first object element
    whose member has that string value: code-table rows are named by their code, not their place)."""
    if token.isdigit():
        return int(token) if int(token) < len(array) else None
    member, sep, wanted = token.partition("=")
    if sep:
        for i, el in enumerate(array):
            if isinstance(el, dict) and el.get(member) == wanted:
                return i
    return None


def _matches(element: Any, anchor: Any) -> bool:
    if isinstance(anchor, dict) and isinstance(element, dict):
        return all(element.get(k) == v for k, v in anchor.items())
    return element == anchor


def _walk(doc: Any, tokens: list[str], where: str) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _element(node, token) is not None:
            node = node[_element(node, token)]
        else:
            raise EditError(f"{where}: no member {token!r}")
    return node


def _set(doc: Any, edit: JsonSet, where: str) -> Any:
    tokens = _tokens(edit.pointer)
    if not tokens:
        return copy.deepcopy(edit.value)
    parent = _walk(doc, tokens[:-1], where)
    key = tokens[-1]
    if not isinstance(parent, dict):
        raise EditError(f"{where}: parent of {edit.pointer} is not an object")
    exists = key in parent
    if edit.must_exist is True and not exists:
        raise EditError(f"{where}: {edit.pointer} does not exist")
    if edit.must_exist is False and exists:
        raise EditError(f"{where}: {edit.pointer} already exists")
    value = copy.deepcopy(edit.value)
    if exists or (edit.after is None and edit.before is None):
        parent[key] = value
        return doc
    anchor = edit.after if edit.after is not None else edit.before
    if anchor not in parent:
        raise EditError(f"{where}: anchor member {anchor!r} not found next to {edit.pointer}")
    items = list(parent.items())
    parent.clear()
    for k, v in items:
        if k == anchor and edit.before is not None:
            parent[key] = value
        parent[k] = v
        if k == anchor and edit.after is not None:
            parent[key] = value
    return doc


def _apply_json(doc: Any, edit: Edit, where: str) -> Any:
    if isinstance(edit, JsonSet):
        return _set(doc, edit, where)
    if isinstance(edit, JsonRemove):
        tokens = _tokens(edit.pointer)
        parent = _walk(doc, tokens[:-1], where)
        key = tokens[-1]
        if isinstance(parent, dict) and key in parent:
            del parent[key]
        elif isinstance(parent, list) and _element(parent, key) is not None:
            del parent[_element(parent, key)]
        else:
            raise EditError(f"{where}: nothing to remove at {edit.pointer}")
        return doc
    if isinstance(edit, ListInsert):
        array = _walk(doc, _tokens(edit.pointer), where)
        if not isinstance(array, list):
            raise EditError(f"{where}: {edit.pointer} is not an array")
        if edit.value in array:
            raise EditError(f"{where}: {edit.value!r} is already in {edit.pointer}")
        if edit.after is None:
            array.append(copy.deepcopy(edit.value))
        else:
            at = next((i for i, el in enumerate(array) if _matches(el, edit.after)), None)
            if at is None:
                raise EditError(f"{where}: {edit.after!r} not found in {edit.pointer}")
            array.insert(at + 1, copy.deepcopy(edit.value))
        return doc
    if isinstance(edit, JsonCopy):
        return _set(doc, JsonSet(edit.change, edit.file, edit.pointer, _walk(doc, _tokens(edit.source), where),
                                 after=edit.after, must_exist=False), where)
    if isinstance(edit, ListRemove):
        array = _walk(doc, _tokens(edit.pointer), where)
        if not isinstance(array, list) or edit.value not in array:
            raise EditError(f"{where}: {edit.value!r} not found in {edit.pointer}")
        array.remove(edit.value)
        return doc
    raise EditError(f"{where}: {type(edit).__name__} does not apply to a JSON file")


def dump_json(doc: Any) -> str:
    """The layout of the spec folders' JSON files."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# ----------------------------------------------------------------------------- derivation
def load_revision(folder: str) -> Revision:
    module = importlib.import_module(f"tongban.specs.revisions.{folder.replace('-', '_').replace('.', '_')}")
    return module.REVISION


def derive(revision: Revision, base_dir: Path | None = None) -> dict[str, bytes]:
    """The files of the revised folder (relative path → content), derived in memory."""
    base_dir = base_dir or SPECS_ROOT / revision.base.lower()
    files: dict[str, bytes] = {}
    for path in sorted(p for p in base_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(base_dir).as_posix()
        if rel in revision.skip or "__pycache__" in rel:
            continue
        raw = path.read_bytes()
        if not rel.startswith(revision.keep_unchanged) or not revision.keep_unchanged:
            text = raw.decode("utf-8")
            for old, new in revision.global_replacements:
                text = text.replace(old, new)
            raw = text.encode("utf-8")
        files[rel] = raw
    parsed: dict[str, Any] = {}

    def text_of(rel: str) -> str:
        if rel in parsed:
            files[rel] = dump_json(parsed.pop(rel)).encode("utf-8")
        if rel not in files:
            raise EditError(f"change {edit.change}: no file {rel}")
        return files[rel].decode("utf-8")

    for edit in revision.edits:
        where = f"change {edit.change}, {edit.file}"
        if isinstance(edit, Create):
            if edit.file in files or edit.file in parsed:
                raise EditError(f"{where}: file exists already")
            if edit.text is not None:
                files[edit.file] = edit.text.encode("utf-8")
            else:
                parsed[edit.file] = copy.deepcopy(edit.value)
            continue
        if isinstance(edit, Rename):
            if edit.file in parsed:
                parsed[edit.to] = parsed.pop(edit.file)
            elif edit.file in files:
                files[edit.to] = files.pop(edit.file)
            else:
                raise EditError(f"{where}: no file to rename")
            continue
        if isinstance(edit, Replace):
            text = text_of(edit.file)
            found = text.count(edit.old)
            if found == 0 or (edit.count and found != edit.count):
                raise EditError(f"{where}: expected {edit.count or 'at least 1'} occurrence(s) of {edit.old!r}, "
                                f"found {found}")
            files[edit.file] = text.replace(edit.old, edit.new).encode("utf-8")
            continue
        if edit.file not in parsed:
            if edit.file not in files:
                raise EditError(f"{where}: no file {edit.file}")
            parsed[edit.file] = json.loads(files[edit.file])
        parsed[edit.file] = _apply_json(parsed[edit.file], edit, where)
    for rel, doc in parsed.items():
        files[rel] = dump_json(doc).encode("utf-8")
    return dict(sorted(files.items()))


def differences(target: Path, derived: dict[str, bytes]) -> list[str]:
    """The relative paths whose committed content differs from the derivation (missing or extra files too)."""
    present = {p.relative_to(target).as_posix(): p for p in target.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    out = [rel for rel, content in derived.items() if rel not in present or present[rel].read_bytes() != content]
    out += [rel for rel in present if rel not in derived]
    return sorted(out)


def write(target: Path, derived: dict[str, bytes]) -> None:
    for rel in differences(target, derived):
        path = target / rel
        if rel in derived:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(derived[rel])
        else:
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tongban.specs.revise", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the revised folder to derive, e.g. tbs-1.1")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the folder is stale")
    args = parser.parse_args(argv)
    revision = load_revision(args.folder)
    derived = derive(revision)
    target = SPECS_ROOT / args.folder
    stale = differences(target, derived) if target.is_dir() else sorted(derived)
    if args.check:
        for rel in stale:
            print(f"stale: {args.folder}/{rel}", file=sys.stderr)
        return 1 if stale else 0
    write(target, derived)
    print(f"{args.folder}: {len(derived)} files, {len(stale)} rewritten")
    return 0


if __name__ == "__main__":
    # Run the imported module's main: the revision modules import their edit classes from
    # tongban.specs.revise, and isinstance checks need that one copy, not __main__'s.
    from tongban.specs import revise as _imported
    sys.exit(_imported.main())
