"""Compiled schema nodes: the reporting walk of stages S1–S2 (TBS-1.0 §19.3).

Each node is built from one JSON Schema (after ``$ref`` resolution, see ``schema_model``)
and knows the TBS rule of its member (``x-tbs-rule``). ``walk`` reports findings in the
§19.3 order and returns whether the member is free of ERRORs (the list rule of §5.2 and the
S3 gate need that).

The fast path (``fast``) uses two more methods: ``plan`` returns the checks that remain
once a compiled JSON Schema has accepted the value (check characters, list order, ``ext``,
"5.0 is not an integer"), and ``max_bytes`` bounds the JCS size of any accepted value, so
that TBS-SEC-009 needs no serialization when the bound is below the limit.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from tongban.validators.checks import (
    CACHED_CHECKS, CHECKS, FORMATS, CheckResult, parse_date, parse_date_time, string_problem,
)
from tongban.validators.parsing import jcs_bytes
from tongban.validators.rules import MISSING, pointer_token

MAX_SAFE_INT = 2**53 - 1
ENV_002, ENV_003, ENV_004, ENV_005, ENV_006 = "TBS-ENV-002", "TBS-ENV-003", "TBS-ENV-004", "TBS-ENV-005", "TBS-ENV-006"

Plan = Callable[[Any, frozenset[str]], bool]


class Collector:
    """Receives findings during one walk; remembers where ERRORs are (for S3 gating).

    ``emit(rule_id, location, en, zh, value, mask)`` is supplied by the engine, which knows
    the spec's rule catalog and the report being filled.
    """

    __slots__ = ("emit", "allowlist", "error_locations")

    def __init__(self, emit: Callable[..., Any], allowlist: frozenset[str]) -> None:
        self.emit = emit
        self.allowlist = allowlist
        self.error_locations: set[str] = set()

    def error(self, rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING,
              mask: bool = False) -> None:
        self.error_locations.add(location)
        self.emit(rule_id, location, en, zh, value, mask)

    def note(self, rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING,
             mask: bool = False) -> None:
        """A WARNING or INFO finding: does not end the member's checks (§19.3 S2)."""
        self.emit(rule_id, location, en, zh, value, mask)


_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _is_int(value: Any, allowlist: frozenset[str]) -> bool:
    return type(value) is int


@dataclass(eq=False)
class Node:
    rule: str
    type_rule: str = ENV_005

    expected = "value"

    def wrong_type(self, value: Any, loc: str, col: Collector, mask: bool) -> bool:
        col.error(self.type_rule, loc, f"expected {self.expected}, found {json_type(value)}",
                  f"应为 {self.expected}，实为 {json_type(value)}", value, mask)
        return False

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:  # pragma: no cover
        raise NotImplementedError

    def plan(self) -> Plan | None:
        """The fast path's checks beyond the compiled JSON Schema for this member, or None.

        The compiled schema holds types, lengths, patterns, enumerations, ranges, TBS-ENV-006
        and the calendar validity of dates (see ``fast``).
        """
        return None

    def max_bytes(self) -> int | None:
        """Upper bound of the JCS size of any value the fast path accepts (None: unbounded)."""
        return None


@dataclass(eq=False)
class StringNode(Node):
    kind: str = "string"  # §5.2: string | text | date-time | date | raw (no TBS-ENV-006)
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    enum: frozenset[str] | None = None
    const: str | None = None
    formats: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    # code(X, open) (§4.6 of TBS-1.1): a value that passes the Rule but is not listed in X is
    # accepted and reported under the row's rule (a WARNING), after the pattern (§19.3 S2).
    open_listed: frozenset[str] | None = None
    open_rule: str = ""

    expected = "string"

    def rule_problem(self, value: str) -> tuple[str, str] | None:
        """The field table's Rule (length, pattern, enumeration, formats): (en, zh) or None."""
        if self.const is not None and value != self.const:
            return f"must be {self.const!r}", f"必须为 {self.const!r}"
        if self.enum is not None and value not in self.enum:
            return "not one of the allowed codes", "不在允许的代码之中"
        n = len(value)
        if self.min_length is not None and n < self.min_length:
            return f"shorter than {self.min_length} characters", f"少于 {self.min_length} 个字符"
        if self.max_length is not None and n > self.max_length:
            return f"longer than {self.max_length} characters", f"超过 {self.max_length} 个字符"
        if self.pattern is not None and self.kind not in ("date-time", "date") and not self.pattern.fullmatch(value):
            return f"does not match {self.pattern_text}", f"不符合模式 {self.pattern_text}"
        for name in self.formats:
            if not FORMATS[name](value):
                return f"fails {name}", f"不满足 {name}"
        return None

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not str:
            return self.wrong_type(value, loc, col, mask)
        if self.kind != "raw":
            problem = string_problem(value, "text" if self.kind == "text" else "string")
            if problem:
                col.error(ENV_006, loc, problem[0], problem[1], value, mask)
                return False
        if self.kind == "date-time" and parse_date_time(value) is None:
            col.error("TBS-ENV-007", loc, "not a valid RFC 3339 date-time with offset", "不是带时区偏移的有效 RFC 3339 日期时间", value)
            return False
        if self.kind == "date" and parse_date(value) is None:
            col.error("TBS-ENV-008", loc, "not a valid YYYY-MM-DD date", "不是有效的 YYYY-MM-DD 日期", value)
            return False
        problem = self.rule_problem(value)
        if problem:
            col.error(self.rule, loc, problem[0], problem[1], value, mask)
            return False
        for name in self.checks:
            result: CheckResult | None = CHECKS[name](value, col.allowlist)
            if result is not None:
                if result.rule_id == "TBS-CODE-015":  # INFO: the checks go on
                    col.note(result.rule_id, loc, result.en, result.zh, value, mask)
                else:
                    col.error(result.rule_id, loc, result.en, result.zh, value, mask)
                    return False
        if self.open_listed is not None and value not in self.open_listed:
            col.note(self.open_rule, loc, "not listed in the code table (accepted)", "不在代码表所列值中（接受）", value, mask)
        return True

    def plan(self) -> Plan | None:
        formats = tuple(FORMATS[name] for name in self.formats)
        checks = tuple(CACHED_CHECKS[name] for name in self.checks)
        listed = self.open_listed
        if not formats and not checks and listed is None:
            return None

        def run(value: Any, allowlist: frozenset[str]) -> bool:
            for fmt in formats:
                if not fmt(value):
                    return False
            for check in checks:
                if not check(value):
                    return False
            # an unlisted value of an open table has a WARNING to report: not "nothing to report"
            return listed is None or value in listed
        return run

    @property
    def direct_check(self) -> Callable[[str], bool] | None:
        """The one cached check of a member with no formats, callable without a wrapper."""
        if len(self.checks) == 1 and not self.formats and self.open_listed is None:
            return CACHED_CHECKS[self.checks[0]]
        return None

    def max_bytes(self) -> int | None:
        # UTF-8 takes at most 4 bytes a code point, and so does the JCS escape of any allowed one.
        if self.const is not None:
            return 4 * len(self.const) + 2
        if self.enum is not None:
            return 4 * max(map(len, self.enum)) + 2
        return None if self.max_length is None else 4 * self.max_length + 2


@dataclass(eq=False)
class IntegerNode(Node):
    minimum: int | None = None
    maximum: int | None = None

    expected = "integer"

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        # bool is an int in Python and 5.0 is a float: neither is a JSON integer (TBS-ENV-005).
        if type(value) is not int:
            return self.wrong_type(value, loc, col, mask)
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            col.error(ENV_005, loc, "integer outside ±(2^53−1)", "整数超出 ±(2^53−1)", value)
            return False
        if self.minimum is not None and value < self.minimum:
            col.error(self.rule, loc, f"less than {self.minimum}", f"小于 {self.minimum}", value)
            return False
        if self.maximum is not None and value > self.maximum:
            col.error(self.rule, loc, f"greater than {self.maximum}", f"大于 {self.maximum}", value)
            return False
        return True

    def plan(self) -> Plan | None:
        return _is_int  # JSON Schema accepts 5.0 as an integer; TBS does not (TBS-ENV-005)

    def max_bytes(self) -> int | None:
        low = self.minimum if self.minimum is not None else -MAX_SAFE_INT
        high = self.maximum if self.maximum is not None else MAX_SAFE_INT
        return max(len(str(low)), len(str(high)))


@dataclass(eq=False)
class BooleanNode(Node):
    expected = "boolean"

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not bool:
            return self.wrong_type(value, loc, col, mask)
        return True

    def max_bytes(self) -> int | None:
        return 5


@dataclass(eq=False)
class AnyObjectNode(Node):
    """An object whose content is validated elsewhere (the records of an envelope)."""

    expected = "object"

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not dict:
            return self.wrong_type(value, loc, col, mask)
        return True


@dataclass(eq=False)
class Conditional:
    """``if`` a sibling member equals one of ``values`` ``then`` members use other nodes."""

    member: str
    values: frozenset[str]
    overrides: dict[str, Node]


@dataclass(eq=False)
class ObjectNode(Node):
    properties: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    dependent_required: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conditionals: tuple[Conditional, ...] = ()
    masked: frozenset[str] = frozenset()  # x-tbs-mask: masked unless the object's kind is ORG

    expected = "object"

    def effective(self, value: dict[str, Any]) -> dict[str, Node]:
        if not self.conditionals:
            return self.properties
        props = self.properties
        for cond in self.conditionals:
            v = value.get(cond.member)
            if type(v) is str and v in cond.values:
                props = {**props, **cond.overrides}
        return props

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not dict:
            return self.wrong_type(value, loc, col, mask)
        ok = True
        props = self.effective(value)
        mask_children = bool(self.masked) and value.get("kind") != "ORG"
        for name, member in value.items():
            if name not in props:
                col.error(ENV_002, f"{loc}/{pointer_token(name)}", "member not defined for this object",
                          "该对象未定义此成员", member, mask_children and name in self.masked)
                ok = False
        for name, node in props.items():
            child = f"{loc}/{name}"
            if name in value:
                v = value[name]
                if v is None:
                    col.error(ENV_004, child, "null is not allowed; omit the member instead", "不允许 null，应省略该成员", v)
                    ok = False
                elif not node.walk(v, child, col, mask_children and name in self.masked):
                    ok = False
            elif name in self.required:
                col.error(ENV_005, child, "mandatory member missing", "缺少必填成员")
                ok = False
        for name, needs in self.dependent_required.items():
            if name in value:
                for other in needs:
                    if other not in value:
                        col.error(self.rule, f"{loc}/{other}", f"required when {name} is present",
                                  f"存在 {name} 时必须提供")
                        ok = False
        return ok

    def plan(self) -> Plan | None:
        static = {name: plan for name, node in self.properties.items() if (plan := node.plan()) is not None}
        conditional = tuple((cond, {name: node.plan() for name, node in cond.overrides.items()})
                            for cond in self.conditionals)
        if not static and not any(p for _, plans in conditional for p in plans.values()):
            return None
        if conditional:
            def run_conditional(value: Any, allowlist: frozenset[str]) -> bool:
                effective = dict(static)
                for cond, overrides in conditional:
                    v = value.get(cond.member)
                    if type(v) is str and v in cond.values:
                        for name, plan in overrides.items():
                            if plan is None:
                                effective.pop(name, None)
                            else:
                                effective[name] = plan
                for name, plan in effective.items():
                    if name in value and not plan(value[name], allowlist):
                        return False
                return True
            return run_conditional
        return _straight_line_plan(self)

    def max_bytes(self) -> int | None:
        total = 2
        for name, node in self.properties.items():
            bound = node.max_bytes()
            variants = [c.overrides[name].max_bytes() for c in self.conditionals if name in c.overrides]
            if variants and self._conditionals_cover(name):
                bound = None if None in variants else max(variants)  # the base never applies
            elif variants:
                bound = None if bound is None or None in variants else max([bound, *variants])
            if bound is None:
                return None
            total += len(name) + 4 + bound  # "name":value,
        return total

    def _conditionals_cover(self, name: str) -> bool:
        """Does every valid value of the tested (mandatory) member select an override of ``name``?"""
        for member in {c.member for c in self.conditionals if name in c.overrides}:
            tested = self.properties.get(member)
            covered: set[str] = set()
            for c in self.conditionals:
                if c.member == member and name in c.overrides:
                    covered |= c.values
            if isinstance(tested, StringNode) and tested.enum is not None and tested.enum <= covered \
                    and member in self.required:
                return True
        return False


@dataclass(eq=False)
class ArrayNode(Node):
    items: Node | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    ascending: bool = False
    unique_by: str | None = None
    order_by: str | None = None

    expected = "array"

    def list_problem(self, value: list[Any]) -> tuple[str, str] | None:
        n = len(value)
        if self.min_items is not None and n < self.min_items:
            return f"fewer than {self.min_items} elements", f"少于 {self.min_items} 个元素"
        if self.max_items is not None and n > self.max_items:
            return f"more than {self.max_items} elements", f"超过 {self.max_items} 个元素"
        return self.order_problem(value)

    def order_problem(self, value: list[Any]) -> tuple[str, str] | None:
        """Distinctness and ascending order (§5.2 list; field-table constraints)."""
        if self.unique_by or self.order_by:
            keys = [el.get(self.unique_by or self.order_by) for el in value]
        else:
            keys = value
        if (self.unique or self.unique_by) and _has_duplicates(keys):
            return "elements are not distinct", "元素重复"
        if self.order_by and self.order_by != self.unique_by:
            keys = [el.get(self.order_by) for el in value]
        if (self.ascending or self.order_by) and any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
            return "elements are not in ascending order", "元素未按升序排列"
        return None

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not list:
            return self.wrong_type(value, loc, col, mask)
        ok = True
        assert self.items is not None
        for i, element in enumerate(value):
            if element is None:
                col.error(ENV_004, f"{loc}/{i}", "null is not allowed", "不允许 null", element)
                ok = False
            elif not self.items.walk(element, f"{loc}/{i}", col, mask):
                ok = False
        if ok:  # count, order and distinctness only when every element is valid (§5.2)
            problem = self.list_problem(value)
            if problem:
                col.error(self.rule, loc, problem[0], problem[1], value, mask)
                return False
        return ok

    def plan(self) -> Plan | None:
        assert self.items is not None
        item = self.items.plan()
        ordered = bool(self.unique_by or self.order_by or self.ascending)
        if item is None and not ordered:
            return None

        def run(value: Any, allowlist: frozenset[str]) -> bool:
            if item is not None:
                for element in value:
                    if not item(element, allowlist):
                        return False
            return not ordered or self.order_problem(value) is None
        return run

    def max_bytes(self) -> int | None:
        assert self.items is not None
        bound = self.items.max_bytes()
        if bound is None or self.max_items is None:
            return None
        return 2 + self.max_items * (bound + 1)


def _straight_line_plan(node: ObjectNode) -> Plan:
    """The plan of an object without conditionals as one generated function.

    It runs for every record on the fast path, so nested objects, integers and single
    check characters are written out inline instead of calling one closure per member.
    """
    env: dict[str, Any] = {}
    lines = ["def plan(v0, allowlist):"]
    objects = [0]  # count of object variables v1, v2, ...

    def emit(obj: ObjectNode, var: str, depth: int) -> None:
        pad = "    " * depth
        for name, child in obj.properties.items():
            plan = child.plan()
            if plan is None:
                continue
            if isinstance(child, IntegerNode):
                lines.append(f"{pad}x = {var}.get({name!r})")
                lines.append(f"{pad}if x is not None and type(x) is not int: return False")
            elif isinstance(child, StringNode) and child.direct_check is not None:
                key = f"check{len(env)}"
                env[key] = child.direct_check
                lines.append(f"{pad}x = {var}.get({name!r})")
                lines.append(f"{pad}if x is not None and not {key}(x): return False")
            elif isinstance(child, ObjectNode) and not child.conditionals:
                objects[0] += 1
                inner = f"v{objects[0]}"
                lines.append(f"{pad}{inner} = {var}.get({name!r})")
                lines.append(f"{pad}if {inner} is not None:")
                emit(child, inner, depth + 1)
            else:
                key = f"plan{len(env)}"
                env[key] = plan
                lines.append(f"{pad}x = {var}.get({name!r})")
                lines.append(f"{pad}if x is not None and not {key}(x, allowlist): return False")

    emit(node, "v0", 1)
    lines.append("    return True")
    exec(compile("\n".join(lines), "<tbs fast plan>", "exec"), env)  # noqa: S102 - code built from our own schema
    return env["plan"]


def _has_duplicates(keys: list[Any]) -> bool:
    try:
        return len(set(keys)) != len(keys)
    except TypeError:  # unhashable keys cannot occur for valid elements; compare pairwise
        return any(keys[i] == keys[j] for i in range(len(keys)) for j in range(i))


def _jcs_size(value: Any, exact: bool) -> int:
    """JCS byte size of ``value``. Without floats (``exact`` False: none was found), JCS and
    ``json.dumps`` differ only in member order, which does not change the length."""
    if not exact:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    try:
        return len(jcs_bytes(value))
    except (ValueError, OverflowError, TypeError):
        return 0  # a non-serializable number is already reported


_EXT_NAME = re.compile(r"[a-z][A-Za-z0-9]{0,63}")


@dataclass(eq=False)
class ExtNode(Node):
    """TBS-ENV-003: the one open object."""

    max_depth: int = 8
    size_limit: int = 8192

    expected = "object"

    def _problems(self, value: dict[str, Any], loc: str) -> list[tuple[str, str, str, Any]]:
        found: list[tuple[str, str, str, Any]] = []
        depth = 0
        stack: list[tuple[Any, str, int]] = [(value, loc, 1)]
        while stack:
            v, where, level = stack.pop()
            if isinstance(v, dict):
                depth = max(depth, level)
                for k, item in v.items():
                    child = f"{where}/{pointer_token(k)}"
                    if not _EXT_NAME.fullmatch(k):
                        found.append((child, "member name must match ^[a-z][A-Za-z0-9]{0,63}$",
                                      "成员名不符合 ^[a-z][A-Za-z0-9]{0,63}$", item))
                    stack.append((item, child, level + 1))
            elif isinstance(v, list):
                depth = max(depth, level)
                stack.extend((item, f"{where}/{i}", level + 1) for i, item in enumerate(v))
            elif v is None:
                found.append((where, "null is not allowed inside ext", "ext 中不允许 null", v))
            elif type(v) is float:
                found.append((where, "numbers inside ext must be integers", "ext 中的数值必须为整数", v))
            elif type(v) is int and not -MAX_SAFE_INT <= v <= MAX_SAFE_INT:
                found.append((where, "integer outside ±(2^53−1)", "整数超出 ±(2^53−1)", v))
        if depth > self.max_depth:
            found.append((loc, f"nesting depth {depth} exceeds {self.max_depth}", f"嵌套深度 {depth} 超过 {self.max_depth}", value))
        size = _jcs_size(value, exact=bool(found))
        if size > self.size_limit:
            found.append((loc, f"JCS size {size} bytes exceeds {self.size_limit}",
                          f"JCS 大小 {size} 字节，超过 {self.size_limit}", value))
        return found

    def walk(self, value: Any, loc: str, col: Collector, mask: bool = False) -> bool:
        if type(value) is not dict:
            return self.wrong_type(value, loc, col, mask)
        problems = self._problems(value, loc)
        for where, en, zh, v in problems:
            col.error(self.rule, where, en, zh, v)
        return not problems

    def plan(self) -> Plan | None:
        return lambda value, allowlist: not self._problems(value, "")

    def max_bytes(self) -> int | None:
        return self.size_limit
