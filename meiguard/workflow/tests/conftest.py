"""甲诊所 (a 湖南 美容医院, grade 3, so that a grade-3 request can be granted) built with the authz test builders, with no authorizations yet,
plus the approvers the workflow needs: 周主任 and 马主任 (医务科), 何医生 (a doctor on the committee).

Personas from the root conftest: wang (admin), li (doctor, practitioner 李医生), zhang (nurse), zhao
(授权专员), qian (association auditor), sun (乙医院 admin, the outsider).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from meiguard.authz import snapshot
from meiguard.authz.tests.conftest import FAR, PAST, SYSTEM, make_doctor, make_institution, make_stock
from meiguard.core.access import Actor, build_actor
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User
from meiguard.registry import actions as reg
from meiguard.registry.models import Device, Institution, Lot, Practitioner, Product
from meiguard.rules.testing import load_builtin_packs
from meiguard.workflow import actions
from meiguard.workflow.models import Application, ExpertCommittee

START = dt.date(2026, 12, 1)
END = dt.date(2028, 11, 30)
_pdf = itertools.count(1)

LOW = "derm-chemical-peel"  # non-invasive, ungraded
MEDIUM = "derm-botulinum-toxin-injection"  # injection, ungraded
HIGH = "surg-full-face-neck-lift"  # grade 3
BEYOND = "surg-zygoma-reduction"  # grade 4: more than 甲 may offer


def pdf(name: str = "证书.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, b"%PDF-1.4 " + str(next(_pdf)).encode() * 20, content_type="application/pdf"
    )


@dataclass
class Workflow:
    world: Any
    jia: Institution
    yi: Institution
    li: Practitioner
    sun_doctor: Practitioner
    toxin: Product
    rf: Product
    collagen: Product
    lot: Lot
    device: Device
    users: dict[str, User] = field(default_factory=dict)
    committee: ExpertCommittee | None = None

    def actor(self, name: str) -> Actor:
        return build_actor(self.users[name])

    def client(self, name: str):
        from django.test import Client

        c = Client()
        c.force_login(self.users[name])
        return c

    def draft(self, by: str = "li", *, institution: Institution | None = None, **data: Any) -> Application:
        payload: dict[str, Any] = {
            "kind": "qualification",
            "practitioner_id": self.li.pk,
            "procedure_code": LOW,
            "valid_from": START,
            "valid_until": END,
            "justification": "已完成进修",
        }
        payload.update(data)
        return actions.create_application(
            self.actor(by), institution_id=(institution or self.jia).pk, data=payload
        )

    def submitted(self, by: str = "li", **data: Any) -> Application:
        app = self.draft(by, **data)
        return actions.submit(self.actor(by), app.pk)

    def open_step(self, app: Application):
        return app.steps.get(round=app.round, status="open")

    def vote(self, name: str, app: Application, verdict: str = "approve", comment: str = "") -> Application:
        step = self.open_step(app)
        actions.act(self.actor(name), step.pk, verdict=verdict, comment=comment)
        app.refresh_from_db()
        return app

    def with_committee(
        self, quorum: int = 2, members: tuple[str, ...] = ("zhou", "zhao", "wang", "he")
    ) -> ExpertCommittee:
        self.committee = actions.save_committee(
            self.actor("wang"),
            institution_id=self.jia.pk,
            name="医疗技术临床应用管理委员会",
            quorum=quorum,
            member_ids=[self.users[m].pk for m in members],
        )
        return self.committee


def add_user(world: Any, username: str, org: Any, role: str) -> User:
    user = User.objects.create_user(
        username=username, password=f"pw-{username}-123456", display_name=username
    )
    Membership.objects.create(user=user, organization=org, role=role)
    world.users[username] = user
    return user


@pytest.fixture
def wf(world) -> Workflow:
    load_builtin_packs()
    snapshot.clear()
    add_user(world, "zhou", world.org_jia, Role.MEDICAL_DIRECTOR)
    add_user(world, "ma", world.org_jia, Role.MEDICAL_DIRECTOR)
    add_user(world, "he", world.org_jia, Role.DOCTOR)
    for name in ("li", "zhou", "zhao", "wang"):
        world.users[name].email = f"{name}@example.cn"
        world.users[name].save(update_fields=["email"])
    jia = make_institution(world.org_jia.pk, "甲诊所", institution_type="cosmetic_hospital")
    yi = make_institution(
        world.org_yi.pk,
        "乙医院",
        province="北京",
        institution_type="cosmetic_hospital",
        subjects=["cosmetic_surgery", "cosmetic_dermatology", "cosmetic_dentistry", "cosmetic_tcm"],
    )
    li = make_doctor(jia, "李医生", user_id=world.users["li"].pk, trainings=("热玛吉-FLX",))
    sun_doctor = make_doctor(yi, "孙医生")
    stock = make_stock(jia, inspected_on=dt.date(2026, 10, 1))
    toxin, rf, lot, device = stock.toxin, stock.rf, stock.lot, stock.device
    reg.create_distribution_authorization(
        SYSTEM,
        supplier_id=stock.supplier.pk,
        brand="薇旖美",
        registrant="锦波生物",
        valid_from=PAST,
        valid_until=FAR,
    )
    collagen = reg.create_product(
        SYSTEM,
        supplier_id=stock.supplier.pk,
        generic_name="重组胶原蛋白敷料",
        brand_name="薇旖美",
        kind="device",
        registration_no="湘械注准20232140001",
        registrant="锦波生物",
        registration_valid_until=FAR,
        risk_class="II",
        category="collagen",
        dose_unit="piece",
    )
    return Workflow(world, jia, yi, li, sun_doctor, toxin, rf, collagen, lot, device, users=world.users)
