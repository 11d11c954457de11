"""演示数据 / The demo world: an association, three institutions in 长沙, ~15 practitioners with real-life edge
cases, two suppliers, products, lots and devices, authorizations, and one login per role.

Everything goes through the apps' own actions (validated and audited). Idempotent: a second run finds the
association and only prints the logins. Dates are relative to today, so "expires in 20 days" stays true.
"""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from meiguard.authz import actions as authz
from meiguard.authz.models import Authorization
from meiguard.core import actions as core
from meiguard.core.access import DEMO_ACTOR, Actor
from meiguard.core.choices import OrganizationKind, Role
from meiguard.core.models import Organization, User
from meiguard.registry import actions as reg
from meiguard.registry.models import Institution, Practitioner
from meiguard.rules.testing import load_builtin_packs

from ...codes import credit_code, id_number, licence_no

ASSOCIATION = "长沙市医疗美容协会"
PASSWORD = "Meiguard-demo-2026"

LOGINS = [
    # username, display name, organisation key, role, what to try
    ("admin", "平台管理员", "platform", Role.PLATFORM_ADMIN, "全部数据、/admin/"),
    ("wang", "王院长", "yamei", Role.INSTITUTION_ADMIN, "雅美门诊部的机构管理员"),
    ("zhao", "赵专员", "yamei", Role.COMPLIANCE_OFFICER, "授权专员:授权档案、核验、审批"),
    ("zhou", "周主任", "yamei", Role.MEDICAL_DIRECTOR, "医务科"),
    ("wu", "吴采购", "yamei", Role.PROCUREMENT, "批次与设备"),
    ("li", "李明", "yamei", Role.DOCTOR, "医生:我能做什么"),
    ("zhang", "张静", "yamei", Role.NURSE, "护士"),
    ("qian", "钱审计", "association", Role.AUDITOR, "协会审计员:三家机构只读"),
    ("chen", "陈经理", "huadong", Role.SUPPLIER_ADMIN, "供应商:产品与经销授权"),
    ("sun", "孙院长", "xiangjiang", Role.INSTITUTION_ADMIN, "另一家机构(看不到雅美的数据)"),
]


class Command(BaseCommand):
    help = "载入演示数据(可重复执行)/ Load the demo world (idempotent) and print one login per role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="do not print the logins")

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(name=ASSOCIATION, kind=OrganizationKind.OVERSIGHT).exists():
            self.stdout.write("演示数据已存在 / demo data already loaded")
        else:
            with transaction.atomic():
                Seeder(timezone.localdate()).run()
            self.stdout.write(self.style.SUCCESS("演示数据已载入 / demo data loaded"))
        for app in FEATURE_SEEDS:  # each is idempotent, so a rerun adds only what is missing
            with transaction.atomic():
                importlib.import_module(f"meiguard.{app}.demo").seed(self.stdout)
        if not options["quiet"]:
            self.print_logins()

    def print_logins(self) -> None:
        self.stdout.write("\n演示账号 / demo logins (password for all: %s)" % PASSWORD)
        for username, name, _org, role, note in LOGINS:
            self.stdout.write(f"  {username:<7} {name:<6} {Role(role).label:<12} {note}")
        self.stdout.write("\n  http://127.0.0.1:8000/  ·  API docs: http://127.0.0.1:8000/api/v1/docs\n")


# Feature apps seed their own demo rows on top of the base world (``<app>/demo.py`` → ``seed(stdout)``).
FEATURE_SEEDS: tuple[str, ...] = (
    "rules",
    "workflow",
    "lifecycle",
    "workspace",
    "reviews",
    "bulk",
    "inventory",
    "clinical",
    "equipment",
    "aftercare",
    "complaints",
    "compliance",
    "public",
)


class Seeder:
    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.actor = Actor.system(DEMO_ACTOR)
        self.orgs: dict[str, Organization] = {}
        self.inst: dict[str, Institution] = {}
        self.people: dict[str, Practitioner] = {}
        self.users: dict[str, User] = {}
        self._n = 0

    def days(self, n: int) -> dt.date:
        return self.today + dt.timedelta(days=n)

    def serial(self) -> int:
        self._n += 1
        return self._n

    # ---- the world ------------------------------------------------------------------------------

    def run(self) -> None:
        load_builtin_packs()
        self.organisations()
        self.institutions()
        self.accounts()
        self.practitioners()
        self.supply_chain()
        self.authorizations()

    def organisations(self) -> None:
        self.orgs["platform"] = core.create_organization(
            self.actor, name="meiguard 平台", kind=OrganizationKind.PLATFORM
        )
        self.orgs["association"] = core.create_organization(
            self.actor, name=ASSOCIATION, kind=OrganizationKind.OVERSIGHT, province="湖南"
        )

    def _institution(self, key: str, name: str, **fields: Any) -> None:
        base: dict[str, Any] = dict(
            name=name,
            credit_code=credit_code(self.serial()),
            licence_kind="practice_licence",
            licence_no=licence_no(self.serial()),
            licence_valid_from=self.days(-3 * 365),
            licence_valid_until=self.days(2 * 365),
            verification_cycle_years=1,
            last_verified_on=self.days(-165),  # next due one cycle later (≈ in 200 days)
            province="湖南",
            city="长沙",
        )
        base.update(fields)
        self.inst[key] = reg.create_institution(self.actor, **base)
        self.orgs[key] = self.inst[key].organization

    def institutions(self) -> None:
        self._institution(
            "liyan",
            "长沙丽颜医疗美容诊所",
            institution_type="aesthetic_clinic",
            subjects=["cosmetic_dermatology"],
            has_anesthesiology=False,
        )
        self._institution(
            "yamei",
            "长沙雅美医疗美容门诊部",
            institution_type="aesthetic_outpatient_dept",
            subjects=["cosmetic_surgery", "cosmetic_dermatology"],
            has_anesthesiology=True,
        )
        self._institution(
            "xiangjiang",
            "湘江整形美容医院",
            institution_type="cosmetic_hospital",
            subjects=["cosmetic_surgery", "cosmetic_dentistry", "cosmetic_dermatology", "cosmetic_tcm"],
            has_anesthesiology=True,
            verification_cycle_years=3,
            last_verified_on=self.days(-695),  # next due one 3-year cycle later (≈ in 400 days)
        )
        core.set_oversight(
            self.actor,
            overseer=self.orgs["association"],
            members=[self.orgs["liyan"], self.orgs["yamei"], self.orgs["xiangjiang"]],
        )

    def accounts(self) -> None:
        self.orgs["huadong"] = self._supplier_org("华东医药供应链有限公司")
        for username, name, org_key, role, _note in LOGINS:
            user = core.create_user(
                self.actor,
                username=username,
                password=PASSWORD,
                display_name=name,
                organization=self.orgs[org_key],
                role=role,
            )
            if username == "admin":
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            self.users[username] = user

    def _supplier_org(self, name: str) -> Organization:
        supplier = reg.create_supplier(
            self.actor,
            name=name,
            credit_code=credit_code(self.serial()),
            business_licence_no=credit_code(self.serial()),
            business_licence_valid_from=self.days(-5 * 365),
        )
        self.suppliers = getattr(self, "suppliers", {})
        self.suppliers[name] = supplier
        return supplier.organization

    # ---- people ---------------------------------------------------------------------------------

    def _person(
        self,
        key: str,
        inst: str,
        name: str,
        profession: str,
        *,
        scope: str,
        category: str,
        title: str,
        since_years: int,
        user: str | None = None,
        licence_days: int = 3 * 365,
        chief: tuple[str, int] | None = None,
        trainings: tuple[str, ...] = (),
        nurse_hours: int | None = None,
    ) -> Practitioner:
        person = reg.create_practitioner(
            self.actor,
            main_institution_id=self.inst[inst].pk,
            name=name,
            id_number=id_number(self.serial() * 37),
            profession=profession,
            licence_no=f"1104301{self.serial():08d}",
            practice_category=category,
            practice_scope=scope,
            title=title,
            practising_since=self.days(-since_years * 365),
            user_id=self.users[user].pk if user else None,
        )
        kind = "nurse_registration" if profession == "nurse" else "practice_licence"
        licence = reg.create_qualification(
            self.actor,
            practitioner_id=person.pk,
            kind=kind,
            issuer="湖南省卫生健康委员会",
            number=f"ZY{self.serial():010d}",
            valid_from=self.days(-2 * 365),
            valid_until=self.days(licence_days),
        )
        reg.verify_qualification(self.actor, licence.pk, status="verified", note="已核对原件")
        if chief:
            subject, years = chief
            filing = reg.create_qualification(
                self.actor,
                practitioner_id=person.pk,
                kind="chief_physician_filing",
                subject=subject,
                filing_date=self.days(-3 * 365),
                qualifying_years=years,
                issuer="长沙市卫生健康委员会",
                number=f"BA{self.serial():08d}",
                valid_from=self.days(-3 * 365),
            )
            reg.verify_qualification(self.actor, filing.pk, status="verified", note="已在医师管理系统查询")
        for brand in trainings:
            reg.create_qualification(
                self.actor,
                practitioner_id=person.pk,
                kind="training_certificate",
                product_reference=brand,
                issuer=f"{brand} 厂家培训中心",
                number=f"PX{self.serial():08d}",
                valid_from=self.days(-300),
                valid_until=self.days(400),
            )
        if nurse_hours is not None:
            reg.create_qualification(
                self.actor,
                practitioner_id=person.pk,
                kind="nurse_training_hours",
                hours=Decimal(nurse_hours),
                issuer="湖南省医学会",
                number=f"XS{self.serial():08d}",
                year=self.today.year,
            )
        self.people[key] = person
        return person

    def practitioners(self) -> None:
        p = self._person
        # 雅美门诊部
        p(
            "liming",
            "yamei",
            "李明",
            "doctor",
            scope="外科",
            category="clinical",
            title="attending",
            since_years=10,
            user="li",
            chief=("cosmetic_surgery", 8),
            trainings=("衡力",),
        )
        p(
            "wangfang",
            "yamei",
            "王芳",
            "doctor",
            scope="皮肤病与性病",
            category="clinical",
            title="attending",
            since_years=7,
            chief=("cosmetic_dermatology", 5),
            trainings=("衡力", "润百颜", "乔雅登", "热玛吉-FLX"),
        )
        p(
            "zhaoqiang",
            "yamei",
            "赵强",
            "doctor",
            scope="外科",
            category="clinical",
            title="associate_chief",
            since_years=15,
            licence_days=20,
            chief=("cosmetic_surgery", 12),
        )  # licence expires in 20 days
        p(
            "sunwei",
            "yamei",
            "孙伟",
            "doctor",
            scope="外科",
            category="clinical",
            title="attending",
            since_years=9,
            chief=("cosmetic_surgery", 7),
        )
        p(
            "zhoujie",
            "yamei",
            "周杰",
            "doctor",
            scope="皮肤病与性病",
            category="clinical",
            title="resident",
            since_years=2,
        )  # not a 主诊: only under supervision
        p(
            "zhangjing",
            "yamei",
            "张静",
            "nurse",
            scope="护理",
            category="nursing",
            title="nurse_practitioner",
            since_years=6,
            user="zhang",
            nurse_hours=180,
        )
        p(
            "liumin",
            "yamei",
            "刘敏",
            "nurse",
            scope="护理",
            category="nursing",
            title="nurse",
            since_years=3,
            nurse_hours=80,
        )  # short of the 160 training hours
        p(
            "chengang",
            "yamei",
            "陈刚",
            "anesthetist",
            scope="麻醉科",
            category="clinical",
            title="attending",
            since_years=11,
        )
        p("wuyue", "yamei", "吴悦", "consultant", scope="", category="", title="none", since_years=4)
        # 湘江整形美容医院
        p(
            "huangtao",
            "xiangjiang",
            "黄涛",
            "doctor",
            scope="外科",
            category="clinical",
            title="associate_chief",
            since_years=18,
            chief=("cosmetic_surgery", 14),
        )  # also practises at 雅美 (多点执业)
        p(
            "zhengli",
            "xiangjiang",
            "郑丽",
            "doctor",
            scope="口腔",
            category="dental",
            title="attending",
            since_years=9,
            chief=("cosmetic_dentistry", 6),
        )
        p(
            "helei",
            "xiangjiang",
            "何磊",
            "doctor",
            scope="中医",
            category="tcm",
            title="attending",
            since_years=8,
            chief=("cosmetic_tcm", 5),
        )
        p(
            "fengxue",
            "xiangjiang",
            "冯雪",
            "nurse",
            scope="护理",
            category="nursing",
            title="supervisor_nurse",
            since_years=12,
            nurse_hours=300,
        )
        # 丽颜诊所
        p(
            "linna",
            "liyan",
            "林娜",
            "doctor",
            scope="皮肤病与性病",
            category="clinical",
            title="attending",
            since_years=6,
            chief=("cosmetic_dermatology", 4),
            trainings=("衡力",),
        )
        p(
            "gaojie",
            "liyan",
            "高洁",
            "nurse",
            scope="护理",
            category="nursing",
            title="nurse",
            since_years=4,
            nurse_hours=170,
        )

        reg.change_practitioner_status(
            self.actor, self.people["sunwei"].pk, status="suspended", reason="医疗纠纷调查期间暂停执业"
        )
        reg.create_practitioner_site(
            self.actor,
            institution_id=self.inst["yamei"].pk,
            practitioner_id=self.people["huangtao"].pk,
            valid_from=self.days(-200),
            valid_until=self.days(165),
        )

    # ---- products -------------------------------------------------------------------------------

    def supply_chain(self) -> None:
        huadong = self.suppliers["华东医药供应链有限公司"]
        self._supplier_org("上海美瑞医疗器械有限公司")
        meirui = self.suppliers["上海美瑞医疗器械有限公司"]
        for supplier, brand, registrant in [
            (huadong, "衡力", "兰州生物制品研究所有限责任公司"),
            (huadong, "润百颜", "华熙生物科技股份有限公司"),
            (meirui, "乔雅登", "Allergan"),
            (meirui, "热玛吉-FLX", "Solta Medical"),
            (meirui, "超声炮", "半岛医疗"),
        ]:
            reg.create_distribution_authorization(
                self.actor,
                supplier_id=supplier.pk,
                brand=brand,
                registrant=registrant,
                territory="湖南省" if supplier is huadong else "全国",
                valid_from=self.days(-365),
                valid_until=self.days(2 * 365),
            )
        mk = reg.create_product
        far = self.days(4 * 365)
        self.toxin = mk(
            self.actor,
            supplier_id=huadong.pk,
            generic_name="注射用A型肉毒毒素",
            brand_name="衡力",
            kind="drug",
            registration_no="国药准字S10970037",
            registrant="兰州生物制品研究所有限责任公司",
            registration_valid_until=far,
            high_risk=True,
            category="botulinum_toxin_a",
            dose_unit="U",
        )
        self.rby = mk(
            self.actor,
            supplier_id=huadong.pk,
            generic_name="注射用修饰透明质酸钠凝胶",
            brand_name="润百颜",
            kind="device",
            registration_no="国械注准20163130001",
            registrant="华熙生物科技股份有限公司",
            registration_valid_until=far,
            risk_class="III",
            high_risk=True,
            category="hyaluronic_acid",
            dose_unit="ml",
        )
        self.jyd = mk(
            self.actor,
            supplier_id=meirui.pk,
            generic_name="注射用交联透明质酸钠凝胶",
            brand_name="乔雅登",
            kind="device",
            registration_no="国械注进20153462345",
            registrant="Allergan",
            registration_valid_until=far,
            risk_class="III",
            high_risk=True,
            category="hyaluronic_acid",
            dose_unit="ml",
        )
        self.rf = mk(
            self.actor,
            supplier_id=meirui.pk,
            generic_name="射频皮肤治疗仪",
            brand_name="热玛吉-FLX",
            kind="device",
            registration_no="国械注进20173091234",
            registrant="Solta Medical",
            registration_valid_until=far,
            risk_class="III",
            category="energy_device",
            dose_unit="shot",
        )
        self.us = mk(
            self.actor,
            supplier_id=meirui.pk,
            generic_name="聚焦超声治疗仪",
            brand_name="超声炮",
            kind="device",
            registration_no="国械注准20213090456",
            registrant="半岛医疗",
            registration_valid_until=far,
            risk_class="III",
            category="energy_device",
            dose_unit="shot",
        )

        lot = reg.create_lot
        yamei, xj, liyan = self.inst["yamei"].pk, self.inst["xiangjiang"].pk, self.inst["liyan"].pk
        lot(
            self.actor,
            institution_id=yamei,
            product_id=self.toxin.pk,
            lot_no="HL20260315",
            expiry_date=self.days(300),
            unit="piece",
        )
        lot(
            self.actor,
            institution_id=yamei,
            product_id=self.rby.pk,
            lot_no="RBY20261102",
            expiry_date=self.days(500),
            unit="piece",
        )
        lot(
            self.actor,
            institution_id=yamei,
            product_id=self.rby.pk,
            lot_no="RBY20241009",
            expiry_date=self.days(-12),
            unit="piece",
        )  # expired
        recalled = lot(
            self.actor,
            institution_id=yamei,
            product_id=self.jyd.pk,
            lot_no="JYD2025R07",
            expiry_date=self.days(400),
            unit="piece",
        )
        reg.change_lot_status(
            self.actor, recalled.pk, status="recalled", recall_level=2, reason="生产企业发布二级召回通知"
        )
        lot(
            self.actor,
            institution_id=xj,
            product_id=self.toxin.pk,
            lot_no="HL20260402",
            expiry_date=self.days(320),
            unit="piece",
        )
        lot(
            self.actor,
            institution_id=liyan,
            product_id=self.toxin.pk,
            lot_no="HL20260211",
            expiry_date=self.days(280),
            unit="piece",
        )

        dev = reg.create_device
        dev(
            self.actor,
            institution_id=yamei,
            product_id=self.rf.pk,
            serial_no="FLX-2021-0457",
            last_inspection_on=self.days(-30),
            inspection_interval_days=180,
            last_calibration_on=self.days(-400),
            calibration_interval_days=365,
        )  # calibration overdue
        dev(
            self.actor,
            institution_id=yamei,
            product_id=self.us.pk,
            serial_no="CSP-2023-0112",
            last_inspection_on=self.days(-20),
            inspection_interval_days=180,
            last_calibration_on=self.days(-60),
            calibration_interval_days=365,
        )
        dev(
            self.actor,
            institution_id=xj,
            product_id=self.rf.pk,
            serial_no="FLX-2022-0981",
            last_inspection_on=self.days(-10),
            inspection_interval_days=180,
            last_calibration_on=self.days(-90),
            calibration_interval_days=365,
        )

    # ---- authorizations -------------------------------------------------------------------------

    def _authorize(
        self,
        inst: str,
        who: str,
        kind: str = "qualification",
        *,
        start: int = -180,
        end: int = 365,
        **scope: Any,
    ) -> Any:
        data: dict[str, Any] = {
            "kind": kind,
            "practitioner_id": self.people[who].pk,
            "valid_from": self.days(start),
            "valid_until": self.days(end),
            "grantor": self.inst[inst].name,
        }
        data.update(scope)
        return authz.create_authorization(
            self.actor, institution_id=self.inst[inst].pk, data=data, activate=True
        )

    def authorizations(self) -> None:
        a = self._authorize
        for code in (
            "surg-double-eyelid",
            "surg-augmentation-rhinoplasty",
            "surg-botulinum-toxin-a-injection",
        ):
            a("yamei", "liming", procedure_code=code)
        a("yamei", "liming", "product", product_brand="衡力")
        for code in (
            "derm-botulinum-toxin-injection",
            "derm-filler-injection",
            "derm-radiofrequency",
            "derm-ultrasound",
            "derm-laser-treatment",
        ):
            a("yamei", "wangfang", procedure_code=code)
        for brand in ("衡力", "润百颜", "乔雅登"):
            a("yamei", "wangfang", "product", product_brand=brand)
        a("yamei", "wangfang", "device", device_model="热玛吉-FLX")
        a("yamei", "zhaoqiang", procedure_code="surg-double-eyelid")
        a(
            "yamei",
            "zhoujie",
            subject="cosmetic_dermatology",
            supervisor_id=self.people["wangfang"].pk,
            conditions_note="须在王芳医师指导下操作",
        )
        a("yamei", "zhangjing", procedure_code="derm-chemical-peel")
        suspended = a("yamei", "sunwei", procedure_code="surg-double-eyelid")
        authz.change_status(self.actor, suspended.pk, action="suspend", reason="医疗纠纷调查期间暂停")
        expired = a("yamei", "zhaoqiang", procedure_code="surg-augmentation-rhinoplasty", start=-400, end=-30)
        authz.expire_due(self.actor, on=self.today)
        assert expired.pk in Authorization.objects.filter(status="expired").values_list("pk", flat=True)
        a("yamei", "huangtao", procedure_code="surg-breast-augmentation", start=-100, end=165)
        a("xiangjiang", "huangtao", procedure_code="surg-full-face-neck-lift")
        a("xiangjiang", "zhengli", subject="cosmetic_dentistry")
        a("xiangjiang", "helei", subject="cosmetic_tcm")
        a("liyan", "linna", procedure_code="derm-botulinum-toxin-injection")
        a("liyan", "linna", "product", product_brand="衡力")
        authz.create_authorization(
            self.actor,
            institution_id=self.inst["xiangjiang"].pk,
            data={
                "kind": "technology",
                "grantee_institution_id": self.inst["yamei"].pk,
                "grantor": "湘江整形美容医院",
                "technology_name": "微创下睑袋矫正技术",
                "technology_kind": "transfer",
                "scope_note": "技术转让:含手术规范、培训 20 学时与 5 例带教",
                "valid_from": self.days(-30),
                "valid_until": self.days(700),
            },
            activate=True,
        )
