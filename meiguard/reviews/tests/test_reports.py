"""Campaign reports: the PDF renders Chinese with an embedded Noto CJK font; the Excel reads back."""

from __future__ import annotations

import io
import re
import zlib

import pytest
from fontTools.ttLib import TTFont
from openpyxl import load_workbook

from meiguard.reviews import actions, reports

from .conftest import TODAY, deny_missing


@pytest.fixture
def reviewed(clinic, campaign):
    qian = clinic.world.actor("qian")
    deny_missing(clinic)
    actions.rebuild_checklist(qian, campaign.pk, today=TODAY)
    actions.raise_finding(
        qian,
        campaign.pk,
        practitioner_id=clinic.li.pk,
        description="超范围注射填充物",
        action="warn",
        today=TODAY,
    )
    return campaign


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        data = match.group(1)
        try:
            # a decompressor object tolerates what follows the compressed data (an end-of-line before endstream)
            out.append(zlib.decompressobj().decompress(data))
        except zlib.error:
            out.append(data)
    return out


def _to_unicode_maps(pdf: bytes) -> list[dict[int, str]]:
    """Every ToUnicode CMap in the file: glyph id → text (bfchar and bfrange entries)."""
    maps = []
    for s in _streams(pdf):
        if b"begincmap" not in s:
            continue
        m: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", s, re.S):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                m[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", s, re.S):
            for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                start = int(dst, 16)
                for i, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    m[gid] = chr(start + i)
        maps.append(m)
    return maps


def _text(pdf: bytes) -> str:
    """A small pdftotext: decode each shown hex string with each font's ToUnicode map, keep the readable one."""
    maps = _to_unicode_maps(pdf)
    chunks = []
    for s in _streams(pdf):
        if b"BT" not in s:
            continue
        for hexes in re.findall(rb"<([0-9A-Fa-f]+)>\s*Tj|\[(.*?)\]\s*TJ", s, re.S):
            raw = b"".join(re.findall(rb"<([0-9A-Fa-f]+)>", hexes[1])) if hexes[1] else hexes[0]
            gids = [int(raw[i : i + 4], 16) for i in range(0, len(raw), 4)]
            decoded = ["".join(m.get(g, "\ufffd") for g in gids) for m in maps]
            chunks.append(min(decoded, key=lambda t: t.count("\ufffd")) if decoded else "")
    return "".join(chunks)


def test_the_pdf_renders_chinese_with_an_embedded_cjk_font(clinic, reviewed):
    pdf = reports.render_pdf(clinic.world.actor("qian"), reviewed.pk)
    assert pdf.startswith(b"%PDF")
    # the font descriptor names the CJK face (objects live in compressed object streams)
    names = {
        n.decode().replace("-", "")
        for s in _streams(pdf)
        for n in re.findall(rb"/FontName\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9-]+)", s)
    }
    assert any(n.startswith(("NotoSansCJK", "NotoSerifCJK")) for n in names), names
    # the embedded font program itself is Noto CJK and carries glyphs for the institution's name
    embedded = [TTFont(io.BytesIO(s)) for s in _streams(pdf) if s[:4] in (b"OTTO", b"\x00\x01\x00\x00")]
    cjk = [f for f in embedded if "CJK" in f["name"].getDebugName(1)]
    assert cjk, [f["name"].getDebugName(1) for f in embedded]
    covered = {cp for f in cjk for cp in f.getBestCmap()}
    assert all(ord(ch) in covered for ch in "甲诊所定期审查报告")
    text = _text(pdf)
    assert "\ufffd" not in text  # every glyph shown maps back to a character: no tofu
    for expected in ("甲诊所", "定期审查报告", "2026-Q1", "超范围注射填充物", "授权档案核对", "李医生"):
        assert expected in text, expected


def test_the_excel_report_has_summary_checklist_and_findings(clinic, reviewed):
    data = reports.render_xlsx(clinic.world.actor("qian"), reviewed.pk)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["概要", "检查清单", "问题与整改"]
    summary = {row[0]: row[1] for row in wb["概要"].iter_rows(values_only=True)}
    assert summary["机构"] == "甲诊所"
    assert summary["审查类型"] == "协会审查"
    assert summary["检查项"] == 20 and summary["问题总数"] == 1 and summary["未关闭问题"] == 1
    items = list(wb["检查清单"].iter_rows(values_only=True))
    assert items[0][0] == "类别"
    assert len(items) == 1 + 20  # header + 14 + 6 inventory checks
    denied = [r for r in items if r[0] == "超范围或授权失效的核验"]
    assert len(denied) == 1 and "李医生" in denied[0][1] and denied[0][5] == 1
    monthly = [r for r in items if r[0] == "月度内部检查"]
    assert len(monthly) == 12 and all(r[7] == "是" for r in monthly)
    findings = list(wb["问题与整改"].iter_rows(values_only=True))
    assert findings[1][2] == "超范围注射填充物" and findings[1][5] == "警示" and findings[1][7] == "待整改"


def test_reports_download_from_the_page_and_the_api(clinic, reviewed):
    client = clinic.world.client("li")  # a member of the institution may read its reviews
    r = client.get(f"/reviews/{reviewed.pk}/report.xlsx")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r["Content-Disposition"]
    r = client.get(f"/api/v1/reviews/campaigns/{reviewed.pk}/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert (
        clinic.world.client("sun").get(f"/api/v1/reviews/campaigns/{reviewed.pk}/report.xlsx").status_code
        == 404
    )
