"""Results (办件结果) of concluded cases with the bytes of their documents (TBS-RES-003..005)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tongban.model.clock import parse_stamp
from tongban.sandbox.documents import ofd_bytes, pdf_bytes
from tongban.sandbox.identities import business_uscc
from tongban.sandbox.regions import GUANGDONG
from tongban.sandbox.timeline import add_years

if TYPE_CHECKING:
    from tongban.sandbox.cases import CaseWriter

__all__ = ["ResultWriter"]


class ResultWriter:
    """The Result part of a case writer (mixed into ``CaseWriter``)."""

    def _result(self: CaseWriter, case: dict, conclude: dict) -> None:
        code = conclude["conclusionCode"]
        if code not in ("APPROVED_WITH_CERT", "NOT_PERMITTED", "NOT_ACCEPTED"):
            return
        b, tmpl, dept = self.b, self.tmpl, self.item.dept
        issued = parse_stamp(conclude["occurredAt"])
        year = issued.year
        if code == "APPROVED_WITH_CERT":
            result_type, cert_name, fmt = tmpl.result_type, tmpl.cert_name, tmpl.cert_no
        elif code == "NOT_PERMITTED":
            result_type, fmt = "DECISION", "doc:不许字"
            cert_name = "不予行政许可决定书" if tmpl.item_type == "01" else "不予批准决定书"
        else:
            result_type, cert_name, fmt = "DECISION", "不予受理决定书", "doc:不受字"
        n = b.next_cert_seq(self.system.system_id, fmt, year)
        cert_no = self._cert_no(fmt, n, issued, case)
        result: dict[str, Any] = {"caseNo": case["caseNo"], "resultType": result_type, "certName": cert_name,
                                  "certNo": cert_no, "issuer": {"name": dept.name, "uscc": dept.uscc},
                                  "issuedAt": conclude["occurredAt"]}
        if code == "APPROVED_WITH_CERT" and tmpl.validity_years:
            result["validUntil"] = (add_years(issued.date(), tmpl.validity_years) - timedelta(days=1)).isoformat()
        media = tmpl.media_type if code == "APPROVED_WITH_CERT" else "application/pdf"
        lines = [f"caseNo {case['caseNo']}", f"certNo {cert_no}", f"issuer {dept.name}",
                 f"issuedAt {conclude['occurredAt']}", f"holder {case['applicant']['name']}"]
        content = ofd_bytes(cert_name, lines) if media == "application/ofd" else pdf_bytes(cert_name, lines)
        digest = hashlib.sha256(content).hexdigest()
        ext = "ofd" if media == "application/ofd" else "pdf"
        # named after the whole case number: the date and daily sequence alone repeat across items
        result["document"] = {"fileName": f"{case['regionCode']}-{year}-{case['caseNo']}.{ext}",
                              "mediaType": media, "sha256": digest, "size": len(content)}
        b.documents[digest] = content
        self.system._add("result", result["issuedAt"], (case["caseNo"], cert_no), result)

    def _cert_no(self: CaseWriter, fmt: str, n: int, issued: datetime, case: dict) -> str:
        place, rng, region = self.place, self.rng, case["regionCode"]
        if fmt.startswith("doc:"):
            return f"{place.prefix}{fmt[4:]}〔{issued.year}〕第{n:04d}号"
        if fmt.startswith("receipt:"):
            return f"{fmt[8:]}{region}{issued:%Y%m%d}{n:04d}"
        if fmt == "food":
            return f"JY{rng.choice('12')}{region}{n:06d}{rng.randrange(10)}"
        if fmt == "marriage":
            return f"J{region}-{issued.year}-{n:06d}"
        if fmt == "construction":
            return f"{region}{issued:%Y%m%d}{n % 100:02d}01"
        if fmt == "road":
            city_short = place.city.short if place.city else GUANGDONG.short
            return f"粤交运管许可{city_short}字{region}{n:06d}号"
        if fmt == "school":
            return f"教民1{region}7{n:07d}号"
        if fmt == "physician":
            return f"1{region[:4]}{issued.year}{n:06d}"
        if fmt == "licence":
            return business_uscc(rng, region, "92")
        if fmt == "pollution" and case["applicant"]["idType"] == "USCC":
            return f"{case['applicant']['idNo']}001P"
        if fmt == "drug":
            return f"粤{'AA' if place.level == 'province' else 'CB'}{region[2:4]}{n:05d}"
        if fmt == "guide":
            return f"D-4400-{n:06d}"
        if fmt == "qualification":
            return f"D2{region[:4]}{n:05d}"
        return f"{region}{issued.year}{n:05d}"
