"""Changes feeds of sandbox systems (TBS-REST-003/004, TBS-SYNC-013) and the service that serves them.

``ChangeFeed`` is an append-only log of one dataset of one system. Positions are 1-based; a
cursor names the position *after* which reading resumes, written ``c-{position:016d}`` (the
form of the Annex B examples), so ``c-0000000000000000`` is the start of the feed. Cursors
never expire: the log lives as long as the sandbox.

``SandboxService`` implements :class:`tongban.connectors.base.SystemService` for one sandbox
system, so the REST and SOAP servers can serve its ``meta`` and feeds unchanged.
"""
from __future__ import annotations

import copy
import re
import threading
from typing import Any, Callable, Collection, Iterable, Sequence

from tongban.connectors.base import ReceivedBody, ServiceError, SystemService
from tongban.model.datasets import Dataset, business_key
from tongban.sandbox.systems import SandboxSystem

__all__ = ["ChangeFeed", "SandboxService", "blocked_positions", "cursor_for", "parse_cursor", "CURSOR_RE",
           "MAX_LIMIT"]

CURSOR_RE = re.compile(r"c-([0-9]{16})")   # matched whole (fullmatch): no trailing newline
MAX_LIMIT = 1000            # TBS-REST-003: limit is int(1..1000)
DEFAULT_LIMIT = 100
SPEC_VERSIONS = ("TBS-1.0",)
LIMITS = {"maxRecords": 1000, "maxBodyBytes": 16_777_216}   # TBS-SEC-009


def cursor_for(position: int) -> str:
    """The opaque cursor after ``position`` records (matches ``^[A-Za-z0-9._~-]{1,512}$``)."""
    return f"c-{position:016d}"


def parse_cursor(cursor: str) -> int:
    """Position named by a cursor of this feed family; ``BAD_CURSOR`` otherwise (TBS-REST-004)."""
    m = CURSOR_RE.fullmatch(cursor) if isinstance(cursor, str) else None
    if m is None:
        raise ServiceError(400, "BAD_CURSOR", f"uninterpretable cursor {str(cursor)[:80]!r}", rule_id="TBS-REST-004")
    return int(m.group(1))


def _check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ServiceError(400, "BAD_PARAMETER", f"limit must be an integer within 1..{MAX_LIMIT}",
                           rule_id="TBS-REST-003")
    return limit


class ChangeFeed:
    """Append-only, ordered changes feed of one dataset (TBS-SYNC-013).

    ``append`` refuses what a feed must never contain: a case's events out of ascending
    ``seq``, a version of a catalog item or case not higher than one already in the feed
    (TBS-SYNC-014), or a second record with the key of an immutable one. With
    ``compact=True``, reads omit a version of a key when a later version of that key
    follows it in the feed, which TBS-SYNC-013 permits; positions and cursors are unchanged.

    Thread-safe: servers read while a demo appends.
    """

    def __init__(self, dataset: str, records: Iterable[dict[str, Any]] = (), *, compact: bool = False) -> None:
        self.dataset = Dataset(dataset)
        self.compact = compact
        self._log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._latest: dict[tuple, tuple[int, int]] = {}   # versioned key → (version, 1-based position)
        self._seen: set[tuple] = set()                   # keys of immutable records
        self._last_seq: dict[str, int] = {}              # caseNo → highest seq (case-event)
        for record in records:
            self.append(record)

    def __len__(self) -> int:
        return len(self._log)

    @property
    def end_cursor(self) -> str:
        """The cursor at the end of the feed now."""
        return cursor_for(len(self._log))

    def append(self, record: dict[str, Any]) -> str:
        """Add a change; returns the cursor just after it."""
        if not isinstance(record, dict):
            raise TypeError("a feed record is a JSON object")
        key = tuple(sorted(business_key(self.dataset, record).items()))
        if len(key) != len(self.dataset.key_members):
            raise ValueError(f"record lacks its business key {self.dataset.key_members}")
        with self._lock:
            position = len(self._log) + 1
            if self.dataset.versioned:
                version = record.get("version")
                if not isinstance(version, int) or isinstance(version, bool):
                    raise ValueError("a versioned record needs an integer version")
                if key in self._latest and version <= self._latest[key][0]:
                    raise ValueError(f"version {version} of {dict(key)} does not follow version "
                                     f"{self._latest[key][0]} already in the feed (TBS-SYNC-014)")
                self._latest[key] = (version, position)
            else:
                if key in self._seen:
                    raise ValueError(f"{dict(key)} is already in the feed; immutable records are never re-sent")
                if self.dataset is Dataset.CASE_EVENT:
                    case_no, seq = record["caseNo"], record["seq"]
                    if seq <= self._last_seq.get(case_no, 0):
                        raise ValueError(f"event seq {seq} of case {case_no} is not above "
                                         f"{self._last_seq[case_no]} (TBS-SYNC-013)")
                    self._last_seq[case_no] = seq
                self._seen.add(key)
            self._log.append(copy.deepcopy(record))
            return cursor_for(position)

    def _superseded(self, position: int) -> bool:
        if not (self.compact and self.dataset.versioned):
            return False
        record = self._log[position - 1]
        key = tuple(sorted(business_key(self.dataset, record).items()))
        return self._latest[key][1] > position

    def page(self, since: str | None = None, limit: int = DEFAULT_LIMIT,
             form: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
             withheld: Collection[int] = ()) -> dict[str, Any]:
        """``{"records", "nextCursor", "hasMore"}`` exactly as TBS-REST-003/004 define them.
        ``form``: each record as served (None: withheld, its position passed over);
        ``withheld``: positions passed over whatever their form (a blocked key)."""
        limit = _check_limit(limit)
        start = 0 if since is None else parse_cursor(since)
        with self._lock:
            end = len(self._log)
            if start >= end:   # at or beyond the end: nothing, and the cursor comes back unchanged
                return {"records": [], "nextCursor": since if since is not None else cursor_for(start),
                        "hasMore": False}
            records: list[dict[str, Any]] = []
            position = start
            while position < end and len(records) < limit:
                position += 1
                if not self._superseded(position) and position not in withheld:
                    record = copy.deepcopy(self._log[position - 1])
                    if form is not None:
                        record = form(record)
                    if record is not None:
                        records.append(record)
            return {"records": records, "nextCursor": cursor_for(position), "hasMore": position < end}

    def records(self) -> list[dict[str, Any]]:
        """Everything a full read returns, in feed order."""
        with self._lock:
            return [copy.deepcopy(r) for p, r in enumerate(self._log, start=1) if not self._superseded(p)]

    def snapshot(self) -> list[dict[str, Any]]:
        """Every change in the log, in feed order (positions 1…), superseded versions included."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._log]


def blocked_positions(dataset: str, records: Sequence[dict[str, Any]],
                      admitted: Callable[[dict[str, Any]], bool], blocked_cases: Collection[str] = ()) -> set[int]:
    """TBS-1.1 TBS-SYNC-015 (d): the positions (1-based) of a feed served in one version that are
    withheld, given ``admitted`` (the record's form in that version exists and passes S1–S3) and
    the cases none of whose versions that feed family admits (``blocked_cases``).

    A withheld change blocks its key: a case's events after a withheld event are withheld
    (TBS-EVT-007: a consumer would hold them), and an event, result or evaluation of a blocked
    case is withheld (TBS-SYNC-007). A later catalog or case version is admitted on its own
    (a consumer accepts a higher version after a gap)."""
    out: set[int] = set()
    broken_cases: set[str] = set()   # cases with a withheld event
    case_linked = dataset in ("case-event", "result", "evaluation")
    for position, record in enumerate(records, start=1):
        case_no = record.get("caseNo") if case_linked else None
        if case_no in blocked_cases or (dataset == "case-event" and case_no in broken_cases) \
                or not admitted(record):
            out.add(position)
            if dataset == "case-event":
                broken_cases.add(case_no)
    return out


class SandboxService:
    """:class:`SystemService` of one sandbox system: ``meta`` and changes feeds.

    By default each system serves the records it owns. With ``include_relayed=True`` a city's
    feeds also carry the records it relays for its counties, including the planted "two
    skins" copies (``SandboxData.planted_two_skins``). Pushes go to ``receiver`` (for example the province's sync engine) when one is
    attached; without it, a push for an accepted dataset answers 503 ``UNAVAILABLE``, and a
    push for any other dataset 404 ``NOT_FOUND`` (TBS-REST-008).
    """

    def __init__(self, system: SandboxSystem, *, bindings: Sequence[str] = ("REST",),
                 include_relayed: bool | Collection[str] = False, compact: bool = False,
                 receiver: SystemService | None = None) -> None:
        """``include_relayed``: True relays every dataset, or name the datasets to relay."""
        self.system = system
        self.bindings = tuple(bindings)
        self.receiver = receiver

        def relays(ds: str) -> bool:
            return include_relayed if isinstance(include_relayed, bool) else ds in include_relayed

        # the versions it serves (TBS-1.1 TBS-REST-002); a system that supports TBS-1.1 writes its
        # records natively in TBS-1.1 (``enrich`` adds what only TBS-1.1 can say) when that form passes
        self.spec_versions: tuple[str, ...] = SPEC_VERSIONS
        self.enrich: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
        self._withheld: dict[tuple[str, str], tuple[tuple[Any, ...], set[int]]] = {}
        self.feeds: dict[str, ChangeFeed] = {
            ds: ChangeFeed(ds, system.feed_records(ds, include_relayed=relays(ds)), compact=compact)
            for ds in system.provides}

    def meta(self) -> dict[str, Any]:
        """Self-description per TBS-REST-002."""
        return {"systemId": self.system.system_id, "roles": list(self.system.roles),
                "datasets": list(self.system.datasets), "specVersions": list(self.spec_versions),
                "bindings": list(self.bindings), "limits": dict(LIMITS)}

    def feed(self, dataset: str) -> ChangeFeed:
        try:
            return self.feeds[dataset]
        except KeyError:
            raise ServiceError(404, "NOT_FOUND", f"{self.system.system_id} serves no changes feed for "
                                                 f"dataset {str(dataset)[:40]!r}") from None

    def changes(self, dataset: str, since: str | None, limit: int = DEFAULT_LIMIT,
                version: str | None = None) -> dict[str, Any]:
        if version is None or self.spec_versions == SPEC_VERSIONS:
            return self.feed(dataset).page(since, limit)
        return self.feed(dataset).page(since, limit, form=lambda r: self.served_form(dataset, r, version),
                                       withheld=self.withheld_positions(dataset, version))

    def withheld_positions(self, dataset: str, version: str) -> set[int]:
        """The positions of ``dataset``'s feed withheld in ``version`` (TBS-SYNC-015 (d), key
        blocking included), computed over the whole log and kept until the log grows."""
        feed = self.feed(dataset)
        cases = self.feeds.get("case")
        stamp = (dataset, version, len(feed), len(cases) if cases is not None else 0)
        cached = self._withheld.get((dataset, version))
        if cached is not None and cached[0] == stamp:
            return cached[1]

        def admitted(d: str) -> Callable[[dict[str, Any]], bool]:
            return lambda r: self.served_form(d, r, version) is not None

        blocked_cases: set[str] = set()
        if cases is not None and dataset in ("case-event", "result", "evaluation"):
            case_log = cases.snapshot()
            ok = admitted("case")
            blocked_cases = {r["caseNo"] for r in case_log} - {r["caseNo"] for r in case_log if ok(r)}
        positions = blocked_positions(dataset, feed.snapshot(), admitted(dataset), blocked_cases)
        self._withheld[(dataset, version)] = (stamp, positions)
        return positions

    def native(self, dataset: str, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The version a record of this system was written in, and its form in it: TBS-1.1 (Annex
        E.2, plus ``enrich``) when the system supports TBS-1.1 and that form passes TBS-1.1, else
        TBS-1.0 as generated (a record made before the system moved to TBS-1.1)."""
        if "TBS-1.1" not in self.spec_versions:
            return "TBS-1.0", record
        from tongban.model.annex_e import upgrade
        from tongban.sync.versions import passes

        form = upgrade(dataset, record)
        if self.enrich is not None:
            form = self.enrich(dataset, form)
        return ("TBS-1.1", form) if passes(dataset, form, "TBS-1.1") else ("TBS-1.0", record)

    def served_form(self, dataset: str, record: dict[str, Any], version: str) -> dict[str, Any] | None:
        """TBS-1.1 TBS-REST-012 / TBS-SYNC-015 (d) for one record (the key blocking across records is
        :meth:`withheld_positions`): the record written in ``version``
        by Annex E when that form exists and passes S1–S3 of ``version``; None: withheld. A record
        served in its own version is served as it is (planted defects included)."""
        from tongban.model.annex_e import NotRepresentable, convert
        from tongban.sync.versions import passes

        own, form = self.native(dataset, record)
        if own == version:
            return form
        try:
            written = convert(dataset, form, own, version)
        except NotRepresentable:
            return None
        return written if passes(dataset, written, version) else None

    def append(self, dataset: str, record: dict[str, Any]) -> str:
        """A new change made by the system's operator (a demo step); returns its cursor."""
        return self.feed(dataset).append(record)

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        dataset = binding_dataset if binding_dataset is not None else envelope.get("dataset")
        if dataset not in self.system.accepts:
            raise ServiceError(404, "NOT_FOUND", f"{self.system.system_id} accepts no pushes of dataset "
                                                 f"{str(dataset)[:40]!r}")
        if self.receiver is None:
            raise ServiceError(503, "UNAVAILABLE", "no receiver is attached to this sandbox system",
                               retry_after=60)
        kwargs: dict[str, Any] = {"binding": binding, "request_hash": request_hash,
                                  "authenticated_sender": authenticated_sender,
                                  "binding_dataset": binding_dataset, "topic_region": topic_region}
        if binding_findings:
            kwargs["binding_findings"] = binding_findings
        if received is not None:
            kwargs["received"] = received
        return self.receiver.receive(envelope, **kwargs)

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return self.receiver.get_ack(message_id, caller) if self.receiver is not None else None
