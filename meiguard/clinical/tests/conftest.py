"""A treatment-case world on top of the authz ``clinic``: 甲's 李医生 (toxin), a surgeon 周医生 and an anaesthetist
马医生 for breast augmentation (grade 2, epidural-iv), the nurse 张护士, published prices, consent templates, and
helpers that walk a case through each step with the right signer."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from meiguard.authz.tests.conftest import (  # noqa: F401  (fixtures)
    FAR,
    PAST,
    SYSTEM,
    Clinic,
    authorize,
    clinic,
    id_number,
    make_doctor,
)
from meiguard.clinical import actions
from meiguard.clinical.models import Case, Client
from meiguard.core.choices import Role
from meiguard.core.models import Membership, User
from meiguard.registry import actions as reg
from meiguard.registry.models import Practitioner

TOXIN = "derm-botulinum-toxin-injection"
BREAST = "surg-breast-augmentation"  # grade 2, epidural-iv: needs an anaesthetist
FILLER = "derm-filler-injection"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
GOOD_ANSWERS = {
    "hypertension": "none",
    "cardiac": "none",
    "coagulation": "normal",
    "expectation": "realistic",
    "allergy": "none",
    "previous_complication": "none",
    "local_skin": "normal",
    "pregnancy": "no",
}
_n = itertools.count(1)


def _user(world: Any, username: str, role: str = Role.DOCTOR) -> User:
    user = User.objects.create_user(
        username=username, password="pw-" + username + "-123456", display_name=username
    )
    Membership.objects.create(user=user, organization=world.org_jia, role=role)
    world.users[username] = user
    return user


def _nurse(clinic: Clinic, user: User) -> Practitioner:  # noqa: F811
    return reg.create_practitioner(
        SYSTEM,
        main_institution_id=clinic.jia.pk,
        name="张护士",
        id_number=id_number(),
        profession="nurse",
        licence_no=f"N20201{next(_n):05d}",
        practice_category="nursing",
        practice_scope="护理",
        title="nurse",
        practising_since=dt.date(2019, 7, 1),
        user_id=user.pk,
    )


@dataclass
class Clin:
    clinic: Clinic
    world: Any
    surgeon: Practitioner
    anesthetist: Practitioner
    nurse: Practitioner
    client: Client

    def actor(self, name: str):
        return self.world.actor(name)

    # ---- steps, each by the right person

    def new_client(self, name: str = "王女士", **data: Any) -> Client:
        payload = {
            "name": name,
            "date_of_birth": dt.date(1990, 5, 1),
            "phone": f"1380000{next(_n):04d}",
            "document_type": "resident_id",
            "id_number": id_number(),
            **data,
        }
        client = actions.create_client(self.actor("zhao"), institution_id=self.clinic.jia.pk, data=payload)
        actions.grant_privacy_consent(
            self.actor("zhao"),
            client.pk,
            purpose="诊疗、术前评估与术后随访",
            scope=["health", "photos", "id_document"],
            retention_years=30,
            notice_version="2026-1",
        )
        return client

    def case(self, procedure: str = TOXIN, *, client: Client | None = None) -> Case:
        if procedure == BREAST:
            return actions.create_case(
                self.actor("zhao"),
                client_id=(client or self.client).pk,
                procedure_code=BREAST,
                operator_id=self.surgeon.pk,
                anesthetist_id=self.anesthetist.pk,
                nurse_id=self.nurse.pk,
            )
        return actions.create_case(
            self.actor("zhao"),
            client_id=(client or self.client).pk,
            procedure_code=procedure,
            operator_id=self.clinic.li.pk,
            nurse_id=self.nurse.pk,
        )

    def doctor_of(self, case: Case) -> str:
        return "zhou" if case.operator_id == self.surgeon.pk else "li"

    def consult(self, case: Case) -> None:
        actions.save_consultation(
            self.actor("zhao"), case.pk, needs="改善", procedure_codes=[case.procedure_code]
        )
        actions.sign_consultation(self.actor(self.doctor_of(case)), case.pk)

    def consent(self, case: Case, decision: str = "signed"):
        tpl = actions.current_template(case.institution_id, case.procedure_code)
        assert tpl is not None
        return actions.sign_consent(
            self.actor("zhang"),
            case.pk,
            template_id=tpl.pk,
            content_hash=tpl.content_hash,
            decision=decision,
            signer_name=case.client.name,
            signature_image=PNG if decision == "signed" else "",
        )

    def assess(self, case: Case, answers: dict[str, str] | None = None, *, sign: bool = True):
        a = actions.save_assessment(
            self.actor("zhang"),
            case.pk,
            answers=answers or GOOD_ANSWERS,
            asa_class=1 if case.needs_anesthetist else None,
        )
        if sign:
            actions.sign_assessment(self.actor(self.doctor_of(case)), case.pk, role="chief")
            if case.needs_anesthetist:
                actions.sign_assessment(self.actor("ma"), case.pk, role="anesthetist")
        return a

    def review(self, case: Case):
        actions.open_review(self.actor("zhao"), case.pk)
        actions.confirm_review(self.actor(self.doctor_of(case)), case.pk, role="chief")
        return actions.confirm_review(self.actor("zhang"), case.pk, role="nurse")

    def node(self, case: Case, node: str):
        from meiguard.clinical import policy

        items = dict.fromkeys(policy.node_item_ids(node), True)
        case.refresh_from_db()
        parties = policy.checklist_parties(case.anesthesia, two_party_under_local=True)
        who = {"surgeon": self.doctor_of(case), "anesthetist": "ma", "nurse": "zhang"}
        row = None
        for p in parties:
            row = actions.sign_checklist_node(
                self.actor(who[p]), case.pk, node=node, party=p, items=items, scanned=[case.code]
            )
        return row

    def ready(self, procedure: str = TOXIN, **kw: Any) -> Case:
        """A case with every pre-operative step done (node 1 too for surgery)."""
        case = self.case(procedure, **kw)
        self.consult(case)
        self.consent(case)
        self.assess(case)
        self.review(case)
        if case.is_surgical:
            self.node(case, "before_anesthesia")
        return case


@pytest.fixture
def clin(clinic, world) -> Clin:  # noqa: F811
    li_user = world.users["li"]
    assert clinic.li.user_id == li_user.pk
    zhou = _user(world, "zhou")
    ma = _user(world, "ma")
    surgeon = make_doctor(
        clinic.jia, "周医生", subject="cosmetic_surgery", scope="外科", trainings=(), user_id=zhou.pk
    )
    authorize(clinic.jia, surgeon, procedure_code=BREAST)
    anesthetist = make_doctor(clinic.jia, "马医生", scope="麻醉科", trainings=(), user_id=ma.pk)
    nurse = _nurse(clinic, world.users["zhang"])
    zhao = world.actor("zhao")
    for code, price in ((TOXIN, "1800"), (BREAST, "38000"), (FILLER, "4800")):
        actions.set_price(zhao, clinic.jia.pk, procedure_code=code, price=Decimal(price))
        actions.create_consent_template(
            zhao,
            institution_id=clinic.jia.pk,
            procedure_code=code,
            title=f"{code} 知情同意书",
            body="治疗目的、方法与注意事项。",
            risks="疼痛、淤青、感染、过敏,罕见血管栓塞。",
            alternatives="不治疗;其他非手术方法。",
        )
    c = Clin(clinic, world, surgeon, anesthetist, nurse, client=None)  # type: ignore[arg-type]
    c.client = c.new_client()
    return c
