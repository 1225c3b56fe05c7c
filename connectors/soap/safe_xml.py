"""Hardened XML parsing for the SOAP binding (TBS-SEC-010).

XML receivers refuse any document with a DOCTYPE declaration, never resolve external entities,
XInclude or schema locations, and refuse element nesting deeper than 64 levels. A document that
is not UTF-8 (a byte-order mark, or an XML declaration naming GBK, GB18030, Big5 or any other
encoding) is refused as well: TBS-SOAP-001 fixes ``charset=utf-8``, and letting a parser switch
decoders on the sender's word is where the multi-byte and unknown-encoding failures hide.
Two passes keep the refusals cheap and exact:

1. an expat scan of the prolog only, which stops at the DOCTYPE (refused before its internal
   subset is read, so entity bombs and external DTDs are never looked at) or at the root
   element start (no DOCTYPE possible after it);
2. an lxml pull parse with entity resolution, DTD loading and network access off and libxml2's
   default size limits on, counting the depth as elements open and stopping at level 65.
"""
from __future__ import annotations

import re
from xml.parsers import expat

from lxml import etree

MAX_DEPTH = 64
_CHUNK = 64 * 1024


class UnsafeXml(ValueError):
    """The document is refused under TBS-SEC-010 (DOCTYPE, entity declarations, nesting)."""


class MalformedXml(ValueError):
    """The document is not well-formed XML 1.0 (TBS-ENV-001)."""


class NotUtf8(MalformedXml):
    """The document declares (or is in) an encoding other than UTF-8 (TBS-SOAP-001)."""


_DECLARATION = re.compile(rb"""^<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']{0,64})["']""")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _require_utf8(data: bytes) -> None:
    if data.startswith(_BOMS):
        raise NotUtf8("the document starts with a byte-order mark; SOAP bodies are UTF-8 without one")
    declared = _DECLARATION.match(data[:256])
    if declared and declared.group(1).decode("ascii", "replace").strip().lower() not in ("utf-8", "utf8"):
        name = declared.group(1).decode("ascii", "replace")[:32]
        raise NotUtf8(f"the XML declaration names encoding {name!r}; SOAP bodies are UTF-8 (TBS-SOAP-001)")


class _Stop(Exception):
    pass


class _DoctypeFound(Exception):
    pass


def _refuse_doctype(data: bytes) -> None:
    """Scan the prolog with expat; raise :class:`UnsafeXml` if it declares a DOCTYPE."""
    scanner = expat.ParserCreate()

    def on_doctype(*_: object) -> None:
        raise _DoctypeFound

    def on_root(*_: object) -> None:
        raise _Stop

    scanner.StartDoctypeDeclHandler = on_doctype
    scanner.EntityDeclHandler = on_doctype
    scanner.StartElementHandler = on_root
    try:
        for start in range(0, len(data) or 1, _CHUNK):
            scanner.Parse(data[start:start + _CHUNK], False)
        scanner.Parse(b"", True)
    except _DoctypeFound:
        raise UnsafeXml("the document contains a DOCTYPE declaration") from None
    except _Stop:
        return
    except (expat.ExpatError, ValueError, LookupError):
        return  # not well-formed: the lxml pass reports it with its own message


def parse_hardened(data: bytes, *, max_depth: int = MAX_DEPTH) -> etree._Element:
    """Parse ``data`` and return the root element, or raise :class:`UnsafeXml` / :class:`MalformedXml`
    (:class:`NotUtf8` for another encoding)."""
    _require_utf8(data)
    _refuse_doctype(data)
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_pis=True, remove_comments=True, strip_cdata=True,
    )
    depth = 0

    def track() -> None:
        nonlocal depth
        for event, element in parser.read_events():
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise UnsafeXml(f"element nesting deeper than {max_depth} levels")
                if depth == 1 and element.getroottree().docinfo.doctype:
                    raise UnsafeXml("the document contains a DOCTYPE declaration")
            else:
                depth -= 1

    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start:start + _CHUNK])
            track()
        root = parser.close()
    except UnsafeXml:
        raise
    except (etree.XMLSyntaxError, ValueError, LookupError) as exc:
        # libxml2 may stop at its own depth limit inside one chunk, before the events were
        # read: the events queued until then still tell whether the nesting was the cause.
        track()
        raise MalformedXml(f"not well-formed XML: {exc}") from None
    if root is None:  # pragma: no cover - lxml raises on an empty document
        raise MalformedXml("empty document")
    return root
