"""Bytes of the result documents (PDF, OFD) whose digest and size a Result carries (TBS-RES-003)."""
from __future__ import annotations

import io
import zipfile

__all__ = ["ofd_bytes", "pdf_bytes"]


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    body = "".join(f"% {line}\n" for line in lines)
    return (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n% tongban sandbox document, not a real certificate\n"
            + f"% {title}\n{body}".encode("utf-8") + b"%%EOF\n")


def ofd_bytes(title: str, lines: list[str]) -> bytes:
    """A minimal OFD container (GB/T 33190 is a ZIP package with OFD.xml), deterministic."""
    doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\" "
           "Version=\"1.0\" DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo>"
           f"<ofd:Title>{title}</ofd:Title><ofd:Abstract>{'；'.join(lines)}</ofd:Abstract>"
           "<ofd:Creator>tongban sandbox</ofd:Creator></ofd:DocInfo></ofd:DocBody></ofd:OFD>\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        info = zipfile.ZipInfo("OFD.xml", date_time=(2026, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o644 << 16
        zf.writestr(info, doc.encode("utf-8"))
    return buf.getvalue()
