"""Demo rows for applications and approvals at 长沙雅美医疗美容门诊部, on top of ``seed_demo``'s base world.

* an expert committee (周主任, 赵专员, 王院长; 2 of 3 must agree);
* 李明's low-risk application for 招风耳矫正术 (grade 1), approved by 周主任 → an active authorization;
* 李明's high-risk application to use 润百颜 (Class III hyaluronic acid): 医务科 and 授权专员 have approved,
  周主任 has voted in the committee, and it waits for 王院长 or 赵专员 — its preview shows the missing
  润百颜 training certificate;
* 王院长's application on behalf of 周杰 (a resident) for IPL under 王芳's supervision, waiting for 医务科.

Everything goes through the workflow's own actions as the demo users (validated, audited, notified).
Idempotent: each row is looked up first, so a rerun adds only what is missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from meiguard.core.access import Actor, build_actor
from meiguard.core.models import User
from meiguard.registry.models import Institution, Practitioner

from . import actions
from .models import Application, ExpertCommittee

YAMEI = "长沙雅美医疗美容门诊部"
LOW_CODE = "surg-prominent-ear-correction"
HIGH_BRAND = "润百颜"
MEDIUM_CODE = "derm-ipl"


def _pdf(title: str) -> bytes:
    """A one-page PDF that opens in any viewer (ASCII text only: no font embedding needed)."""
    text = title.encode("ascii", "replace")
    stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _file(name: str, title: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, _pdf(title), content_type="application/pdf")


def _open_step_id(app: Application) -> int:
    return app.steps.get(round=app.round, status="open").pk


def seed(stdout: Any) -> None:
    yamei = Institution.objects.filter(name=YAMEI).first()
    users = {u.username: u for u in User.objects.filter(username__in=["wang", "zhao", "zhou", "li"])}
    people = {
        p.name: p
        for p in Practitioner.objects.filter(main_institution=yamei, name__in=["李明", "周杰", "王芳"])
    }
    if yamei is None or len(users) < 4 or len(people) < 3:
        stdout.write(
            "授权申请演示数据:缺少基础演示数据,已跳过 / workflow demo: base world missing, skipped\n"
        )
        return
    actor: dict[str, Actor] = {name: build_actor(user) for name, user in users.items()}
    today = timezone.localdate()
    until = today + dt.timedelta(days=2 * 365)
    added: list[str] = []

    if not ExpertCommittee.objects.filter(institution=yamei).exists():
        actions.save_committee(
            actor["wang"],
            institution_id=yamei.pk,
            name="医疗技术临床应用管理委员会",
            quorum=2,
            member_ids=[users["zhou"].pk, users["zhao"].pk, users["wang"].pk],
        )
        added.append("专家委员会(3 人中 2 人同意)")

    liming = people["李明"]
    if not Application.objects.filter(
        institution=yamei, practitioner=liming, procedure_code=LOW_CODE
    ).exists():
        app = actions.create_application(
            actor["li"],
            institution_id=yamei.pk,
            data={
                "kind": "qualification",
                "practitioner_id": liming.pk,
                "procedure_code": LOW_CODE,
                "valid_from": today,
                "valid_until": until,
                "justification": "已在上级医院进修耳廓整形 6 个月,独立完成 12 例。",
            },
        )
        filing = liming.qualifications.filter(kind="chief_physician_filing").first()
        actions.add_evidence(
            actor["li"],
            app.pk,
            kind="certificate",
            qualification_id=filing.pk if filing else None,
            file=None if filing else _file("主诊医师备案.pdf", "Chief physician filing"),
            note="主诊医师备案(美容外科)",
        )
        actions.add_evidence(
            actor["li"],
            app.pk,
            kind="case_log",
            file=_file("耳廓整形病例汇总.pdf", "Case log: otoplasty x12"),
        )
        actions.submit(actor["li"], app.pk)
        app.refresh_from_db()
        actions.act(actor["zhou"], _open_step_id(app), verdict="approve", comment="资料齐全,同意。")
        added.append(f"已批准的低风险申请 #{app.pk}")

    if not Application.objects.filter(
        institution=yamei, practitioner=liming, product_brand=HIGH_BRAND
    ).exists():
        app = actions.create_application(
            actor["li"],
            institution_id=yamei.pk,
            data={
                "kind": "product",
                "practitioner_id": liming.pk,
                "product_brand": HIGH_BRAND,
                "valid_from": today,
                "valid_until": until,
                "scope_note": "面部软组织填充(鼻唇沟、颏部)",
                "justification": "门诊填充类需求增加;已参加厂家理论培训,实操考核安排在下月。",
            },
        )
        actions.add_evidence(
            actor["li"], app.pk, kind="certificate", file=_file("执业证书.pdf", "Practice licence (scan)")
        )
        actions.add_evidence(
            actor["li"],
            app.pk,
            kind="case_log",
            file=_file("填充病例.pdf", "Case log: filler x30 (supervised)"),
        )
        actions.submit(actor["li"], app.pk)
        for name, comment in (("zhou", "同意,提请委员会评审"), ("zhao", "供应商与注册证已核对")):
            app.refresh_from_db()
            actions.act(actor[name], _open_step_id(app), verdict="approve", comment=comment)
        app.refresh_from_db()
        actions.act(
            actor["zhou"], _open_step_id(app), verdict="approve", comment="同意,但须先取得厂家培训证书"
        )
        added.append(f"待专家委员会表决的高风险申请 #{app.pk}")

    zhoujie = people["周杰"]
    if not Application.objects.filter(
        institution=yamei, practitioner=zhoujie, procedure_code=MEDIUM_CODE
    ).exists():
        app = actions.create_application(
            actor["wang"],
            institution_id=yamei.pk,
            data={
                "kind": "qualification",
                "practitioner_id": zhoujie.pk,
                "procedure_code": MEDIUM_CODE,
                "valid_from": today,
                "valid_until": today + dt.timedelta(days=365),
                "supervisor_id": people["王芳"].pk,
                "justification": "住院医师,在王芳医师指导下开展强脉冲光治疗。",
            },
        )
        actions.submit(actor["wang"], app.pk)
        added.append(f"待医务科审核的代申请 #{app.pk}")

    if added:
        stdout.write("授权申请演示数据 / workflow demo: " + ";".join(added) + "\n")
