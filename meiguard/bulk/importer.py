"""Turning parsed rows into registry and authz writes, collecting every error on the way.

``Importer.run`` works in three passes and never stops at the first problem:

1. cells: each value is read through its column spec (type, required, length, choice, checksum);
2. plan: natural keys are resolved against the database and the file itself (duplicates, references
   to practitioners in the same file, permissions), and each row is classed create / update / unchanged;
3. write: rows to create or update go through the same actions the pages use (``registry.actions``,
   ``authz.actions``), so validation rules and audit entries are identical; an action's error is mapped
   back to the column it names.

The caller owns the transaction: a dry run (and any run with an error) is rolled back whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from meiguard.authz import actions as authz_actions
from meiguard.authz.choices import AuthorizationStatus
from meiguard.authz.models import AUTHORIZATION_WRITERS, Authorization
from meiguard.core.access import Actor
from meiguard.core.apierrors import NotFoundField
from meiguard.core.choices import REGISTRY_WRITERS
from meiguard.core.errors import ActionError, FieldErrors
from meiguard.registry import actions as reg_actions
from meiguard.registry.crypto import blind_index
from meiguard.registry.models import Institution, Practitioner, Qualification

from .choices import RowAction
from .specs import (
    AUTHORIZATIONS,
    PRACTITIONERS,
    QUALIFICATIONS,
    SHEETS,
    CellError,
    Column,
    ColumnType,
    SheetSpec,
)
from .workbook import SheetRows

PRACTITIONER_FIELDS = (
    "name",
    "profession",
    "licence_no",
    "practice_category",
    "practice_scope",
    "title",
    "practising_since",
)
QUALIFICATION_KEY = ("kind", "number", "subject", "year", "credit_class")
QUALIFICATION_FIELDS = (
    "issuer",
    "filing_date",
    "qualifying_years",
    "product_reference",
    "valid_from",
    "valid_until",
    "hours",
    "credits",
)
AUTH_SCOPE = (
    "procedure_code",
    "procedure_category",
    "subject",
    "product_brand",
    "device_model",
    "technology_name",
)
AUTH_TEXT = ("grantor", "technology_kind", "scope_note", "conditions_note")
NEW_AUTH_STATUSES = (AuthorizationStatus.DRAFT, AuthorizationStatus.ACTIVE)


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int
    column: str  # the Chinese header, or "" for the whole row
    cell: str  # e.g. "C5", or "5" for the whole row
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "message": self.message,
        }


@dataclass(eq=False)
class Row:
    spec: SheetSpec
    number: int
    letters: dict[str, str]
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    action: str = ""
    target: Any = None  # the existing object (update / unchanged) or the written one
    changes: dict[str, Any] = field(default_factory=dict)
    deps: list[Row] = field(default_factory=list)  # rows of this file this one relies on
    institution_id: int | None = None  # the institution written to
    person: Practitioner | Row | None = None
    supervisor: Practitioner | Row | None = None
    label: str = ""

    def error(self, column: Column | None, message: str) -> None:
        if column is None:
            self.errors.append(RowError(self.spec.title, self.number, "", str(self.number), message))
            return
        letter = self.letters.get(column.key, "")
        self.errors.append(
            RowError(self.spec.title, self.number, column.header, f"{letter}{self.number}", message)
        )

    def col(self, key: str) -> Column:
        return self.spec.by_key[key]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Result:
    rows: list[Row]

    @property
    def errors(self) -> list[RowError]:
        """Every error, in file order: sheet, row, then column (whole-row errors first)."""
        order = {spec.title: i for i, spec in enumerate(SHEETS.values())}
        positions = {
            (spec.title, c.header): i for spec in SHEETS.values() for i, c in enumerate(spec.columns, start=1)
        }
        return sorted(
            (e for r in self.rows for e in r.errors),
            key=lambda e: (order.get(e.sheet, 9), e.row, positions.get((e.sheet, e.column), 0)),
        )

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            sheet = out.setdefault(row.spec.title, {a: 0 for a in RowAction.values})
            sheet[RowAction.ERROR if row.errors else row.action] += 1
        return out

    def changes(self) -> list[dict[str, Any]]:
        """The preview: every row with what would happen to it (changed columns for updates)."""
        out = []
        for row in self.rows:
            action = RowAction.ERROR if row.errors else row.action
            out.append(
                {
                    "sheet": row.spec.title,
                    "row": row.number,
                    "action": str(action),
                    "label": row.label,
                    "columns": [row.col(k).header for k in row.changes if k in row.spec.by_key],
                }
            )
        return out

    def institution_ids(self) -> set[int]:
        """The institutions the rows write to (only ever ones the actor may write)."""
        return {r.institution_id for r in self.rows if r.institution_id is not None}


def _obj_pk(person: Practitioner | Row | None) -> int | None:
    if person is None:
        return None
    if isinstance(person, Row):
        return person.target.pk if isinstance(person.target, Practitioner) else None
    return person.pk


class Importer:
    def __init__(self, actor: Actor, sheets: Iterable[SheetRows]):
        self.actor = actor
        self.rows: list[Row] = []
        for sheet in sheets:
            for number, raw in sheet.rows:
                self.rows.append(Row(sheet.spec, number, sheet.letters, raw))
        self.institutions: dict[str, Institution] = {}
        self.people: dict[str, Practitioner] = {}  # blind index → practitioner the actor may see
        self.visible_people: set[int] = set()
        self.writable_people: set[int] = set()
        self.file_people: dict[str, Row] = {}  # ID number → row of the 执业人员 sheet

    # ---- pass 1: cells -------------------------------------------------------------------------

    def parse(self) -> None:
        for row in self.rows:
            for column in row.spec.columns:
                try:
                    row.values[column.key] = column.parse(row.raw.get(column.key))
                except CellError as exc:
                    row.values[column.key] = column.empty()
                    row.error(column, exc.message)

    # ---- pass 2: plan --------------------------------------------------------------------------

    def _load(self) -> None:
        codes: set[str] = set()
        ids: set[str] = set()
        for row in self.rows:
            for column in row.spec.columns:
                value = row.values.get(column.key)
                if not value:
                    continue
                if column.type == ColumnType.CREDIT_CODE:
                    codes.add(value)
                elif column.type == ColumnType.ID_NUMBER:
                    ids.add(value)
        if codes:
            for inst in Institution.objects.visible_to(self.actor).filter(credit_code__in=codes):
                self.institutions[inst.credit_code] = inst
        if ids:
            index = {blind_index(i): i for i in ids}
            # Only people the actor may see: whether another institution registered an ID number is never
            # revealed (a person unknown here is simply new here). Own institutions' records win over others.
            found = list(
                Practitioner.objects.visible_to(self.actor)
                .filter(id_number_index__in=index)
                .select_related("main_institution")
                .order_by("pk")
            )
            pks = [p.pk for p in found]
            self.visible_people = set(pks)
            self.writable_people = set(
                Practitioner.objects.writable_by(self.actor).filter(pk__in=pks).values_list("pk", flat=True)
            )
            found.sort(key=lambda p: p.pk in self.writable_people)
            self.people = {p.id_number_index: p for p in found}

    def _institution(self, row: Row, key: str, roles: frozenset[str] | None) -> Institution | None:
        column = row.col(key)
        code = row.values.get(key)
        if not code:
            return None
        inst = self.institutions.get(code)
        if inst is None:
            row.error(column, _("统一社会信用代码为 %(code)s 的机构不存在或无权访问") % {"code": code})
            return None
        if roles is not None and not self.actor.can_write_org(inst.organization_id, roles):
            row.error(column, _("无权为机构“%(name)s”导入(需要该机构的管理角色)") % {"name": inst.name})
            return None
        return inst

    def _person(self, row: Row, key: str, name_key: str | None) -> Practitioner | Row | None:
        """The practitioner an ID-number column names: a row of this file's 执业人员 sheet, or a visible one."""
        column = row.col(key)
        number = row.values.get(key)
        if not number:
            if name_key and row.values.get(name_key):
                row.error(column, _("填写了姓名时须填写身份证号"))
            return None
        if name_key and not row.values.get(name_key):
            row.error(row.col(name_key), _("填写身份证号时须填写姓名,用于核对"))
        in_file = self.file_people.get(number)
        if in_file is not None:
            if in_file.errors:
                row.error(
                    column,
                    _("该人员在“%(sheet)s”表第 %(row)s 行有错误,本行无法导入")
                    % {"sheet": in_file.spec.title, "row": in_file.number},
                )
                return None
            name = in_file.values["name"]
            if name_key and row.values.get(name_key) and row.values[name_key] != name:
                row.error(
                    row.col(name_key),
                    _("姓名与身份证号对应的人员不一致(“%(sheet)s”表第 %(row)s 行为“%(name)s”)")
                    % {"sheet": in_file.spec.title, "row": in_file.number, "name": name},
                )
            row.deps.append(in_file)
            return in_file
        person = self.people.get(blind_index(number))
        if person is None or person.pk not in self.visible_people:
            row.error(column, _("身份证号对应的人员不存在或无权访问(可在本文件“执业人员”表中一并登记)"))
            return None
        if name_key and row.values.get(name_key) and row.values[name_key] != person.name:
            row.error(
                row.col(name_key),
                _("姓名与身份证号对应的人员不一致(系统中为“%(name)s”)") % {"name": person.name},
            )
        return person

    def _duplicate(self, seen: dict[tuple[Any, ...], Row], row: Row, key: tuple[Any, ...], what: str) -> bool:
        first = seen.get(key)
        if first is None:
            seen[key] = row
            return False
        row.error(
            None,
            _("与第 %(row)s 行重复(%(what)s相同),同一条记录只能出现一次")
            % {"row": first.number, "what": what},
        )
        return True

    def plan(self) -> None:
        self._load()
        by_sheet: dict[str, list[Row]] = defaultdict(list)
        for row in self.rows:
            by_sheet[row.spec.kind].append(row)
        self._plan_practitioners(by_sheet[PRACTITIONERS.kind])
        self._plan_qualifications(by_sheet[QUALIFICATIONS.kind])
        self._plan_authorizations(by_sheet[AUTHORIZATIONS.kind])

    def _plan_practitioners(self, rows: list[Row]) -> None:
        seen: dict[tuple[Any, ...], Row] = {}
        for row in rows:
            v = row.values
            profession = row.col("profession").label(v["profession"]) if v["profession"] else ""
            row.label = " · ".join(x for x in (v["name"], profession) if x)
            number = v["id_number"]
            if number and self._duplicate(seen, row, (number,), _("身份证号")):
                continue
            inst = self._institution(row, "institution", REGISTRY_WRITERS)
            if inst is not None:
                row.institution_id = inst.pk
            if number:
                self.file_people.setdefault(number, row)
            if not number or inst is None:
                continue
            existing = self.people.get(blind_index(number))
            if existing is None:
                row.action = RowAction.CREATE
                continue
            if existing.main_institution_id != inst.pk:
                message = _("该人员已登记,主执业机构为“%(name)s”;主执业机构不能通过导入变更") % {
                    "name": existing.main_institution.name
                }
                row.error(row.col("id_number"), message)
                continue
            row.target = existing
            row.changes = {f: v[f] for f in PRACTITIONER_FIELDS if getattr(existing, f) != v[f]}
            row.action = RowAction.UPDATE if row.changes else RowAction.UNCHANGED

    def _plan_qualifications(self, rows: list[Row]) -> None:
        seen: dict[tuple[Any, ...], Row] = {}
        people = {p.pk for p in self.people.values()}
        existing: dict[tuple[Any, ...], list[Qualification]] = defaultdict(list)
        for q in Qualification.objects.filter(practitioner_id__in=people).order_by("pk"):
            existing[(q.practitioner_id, *_qualification_key(q))].append(q)
        for row in rows:
            v = row.values
            kind_label = row.col("kind").label(v["kind"]) if v["kind"] else ""
            row.label = " · ".join(x for x in (v["practitioner_name"], kind_label, v["number"]) if x)
            person = self._person(row, "practitioner", "practitioner_name")
            key_values = tuple(v[k] for k in QUALIFICATION_KEY)
            if v["practitioner"] and self._duplicate(
                seen,
                row,
                (v["practitioner"], *key_values),
                _("身份证号、资质类型、证书编号、专业、年度、学分类别"),
            ):
                continue
            if person is None or row.errors:
                continue
            row.person = person
            if isinstance(person, Row):  # checked writable on its own row
                row.institution_id = person.institution_id
                if person.action == RowAction.CREATE:
                    row.action = RowAction.CREATE
                    continue
                practitioner = person.target
            else:
                practitioner = person
                if practitioner.pk not in self.writable_people:
                    row.error(row.col("practitioner"), _("无权修改该人员的资质(须为其主执业机构的管理人员)"))
                    continue
                row.institution_id = practitioner.main_institution_id
            matches = existing.get((practitioner.pk, *key_values), [])
            if not matches:
                row.action = RowAction.CREATE
                continue
            if len(matches) > 1:
                row.error(
                    None,
                    _(
                        "系统中有 %(n)s 条相同的资质(身份证号、类型、证书编号、专业、年度、学分类别均相同),无法确定更新哪一条"
                    )
                    % {"n": len(matches)},
                )
                continue
            row.target = matches[0]
            row.changes = {f: v[f] for f in QUALIFICATION_FIELDS if getattr(row.target, f) != v[f]}
            row.action = RowAction.UPDATE if row.changes else RowAction.UNCHANGED

    def _plan_authorizations(self, rows: list[Row]) -> None:
        seen: dict[tuple[Any, ...], Row] = {}
        institution_ids = {i.pk for i in self.institutions.values()}
        existing: dict[tuple[Any, ...], list[Authorization]] = defaultdict(list)
        for a in Authorization.objects.filter(institution_id__in=institution_ids).order_by("pk"):
            existing[_authorization_key(a)].append(a)
        for row in rows:
            v = row.values
            who = v["practitioner_name"] or v["grantee_institution"]
            scope = next((v[f] for f in AUTH_SCOPE if v[f]), "")
            if scope and v["subject"] == scope:
                scope = row.col("subject").label(scope)
            kind_label = row.col("kind").label(v["kind"]) if v["kind"] else ""
            row.label = " · ".join(x for x in (who, kind_label, scope) if x)
            inst = self._institution(row, "institution", AUTHORIZATION_WRITERS)
            person = self._person(row, "practitioner", "practitioner_name")
            supervisor = self._person(row, "supervisor", None)
            grantee = self._institution(row, "grantee_institution", None)
            key = (
                v["institution"],
                v["kind"],
                v["practitioner"],
                v["grantee_institution"],
                *(v[f] for f in AUTH_SCOPE),
                v["valid_from"],
            )
            if (
                v["institution"]
                and v["kind"]
                and self._duplicate(seen, row, key, _("授权机构、类型、被授权人/机构、范围、生效日期"))
            ):
                continue
            if inst is None or row.errors:
                continue
            row.institution_id = inst.pk
            row.person, row.supervisor = person, supervisor
            new_person = isinstance(person, Row) and person.action == RowAction.CREATE
            matches = (
                []
                if new_person
                else existing.get(
                    (
                        inst.pk,
                        v["kind"],
                        _obj_pk(person),
                        grantee.pk if grantee else None,
                        *(v[f] for f in AUTH_SCOPE),
                        v["valid_from"],
                    ),
                    [],
                )
            )
            if len(matches) > 1:
                matches = [a for a in matches if a.status == v["status"]]
            if not matches:
                if v["status"] not in NEW_AUTH_STATUSES:
                    row.error(row.col("status"), _("新增授权的状态只能是“草稿”或“生效”"))
                    continue
                row.action = RowAction.CREATE
                continue
            if len(matches) > 1:
                row.error(None, _("系统中有 %(n)s 条相同的授权,无法确定对应哪一条") % {"n": len(matches)})
                continue
            self._compare_authorization(row, matches[0], inst)

    def _compare_authorization(self, row: Row, auth: Authorization, inst: Institution) -> None:
        v = row.values
        row.target = auth
        wanted: dict[str, Any] = {f: v[f] for f in AUTH_TEXT}
        wanted["grantor"] = v["grantor"] or inst.name
        wanted["valid_until"] = v["valid_until"]
        wanted["max_grade"] = v["max_grade"]
        for name, value in wanted.items():
            if getattr(auth, name) != value:
                column = row.col(name)
                shown = (
                    column.label(getattr(auth, name))
                    if column.type == ColumnType.CHOICE
                    else getattr(auth, name)
                )
                row.error(
                    column,
                    _("已有授权不能通过导入修改(系统中为“%(value)s”);如需变更,请在授权档案中撤销后新建或续期")
                    % {"value": "" if shown is None else shown},
                )
        if auth.supervisor_id != _obj_pk(row.supervisor) or (
            isinstance(row.supervisor, Row) and row.supervisor.action == RowAction.CREATE
        ):
            row.error(row.col("supervisor"), _("已有授权的指导主诊医师不能通过导入修改"))
        if auth.status != v["status"]:
            if auth.status == AuthorizationStatus.DRAFT and v["status"] == AuthorizationStatus.ACTIVE:
                row.changes["status"] = v["status"]
            else:
                status = row.col("status")
                row.error(
                    status,
                    _("状态不能通过导入由“%(old)s”改为“%(new)s”,请在授权档案中操作")
                    % {"old": status.label(auth.status), "new": status.label(v["status"])},
                )
        if not row.errors:
            row.action = RowAction.UPDATE if row.changes else RowAction.UNCHANGED

    # ---- pass 3: write -------------------------------------------------------------------------

    def write(self) -> None:
        writers: dict[str, Callable[[Row], Any]] = {
            PRACTITIONERS.kind: self._write_practitioner,
            QUALIFICATIONS.kind: self._write_qualification,
            AUTHORIZATIONS.kind: self._write_authorization,
        }
        for row in self.rows:
            if row.errors or row.action not in (RowAction.CREATE, RowAction.UPDATE):
                continue
            failed = next((d for d in row.deps if d.errors), None)
            if failed is not None:
                row.error(
                    None,
                    _("所引用的“%(sheet)s”表第 %(row)s 行未能导入")
                    % {"sheet": failed.spec.title, "row": failed.number},
                )
                continue
            try:
                row.target = writers[row.spec.kind](row)
            except FieldErrors as exc:
                for name, messages in exc.errors.items():
                    column = row.spec.column_for_field(name)
                    for message in messages:
                        row.error(column, str(message))
            except NotFoundField as exc:
                row.error(row.spec.column_for_field(exc.field), _("所指对象不存在或无权访问"))
            except ActionError as exc:
                row.error(row.spec.column_for_field(exc.field or ""), str(exc.message))
            except Http404:
                row.error(None, _("所指对象不存在或无权访问"))

    def _write_practitioner(self, row: Row) -> Practitioner:
        v = row.values
        if row.action == RowAction.UPDATE:
            return reg_actions.update_practitioner(self.actor, row.target.pk, **row.changes)
        assert row.institution_id is not None
        return reg_actions.create_practitioner(
            self.actor,
            main_institution_id=row.institution_id,
            id_number=v["id_number"],
            **{f: v[f] for f in PRACTITIONER_FIELDS},
        )

    def _write_qualification(self, row: Row) -> Qualification:
        v = row.values
        if row.action == RowAction.UPDATE:
            return reg_actions.update_qualification(self.actor, row.target.pk, **row.changes)
        practitioner_id = _obj_pk(row.person)
        assert practitioner_id is not None
        return reg_actions.create_qualification(
            self.actor,
            practitioner_id=practitioner_id,
            **{f: v[f] for f in (*QUALIFICATION_KEY, *QUALIFICATION_FIELDS)},
        )

    def _write_authorization(self, row: Row) -> Authorization:
        v = row.values
        if row.action == RowAction.UPDATE:
            return authz_actions.change_status(self.actor, row.target.pk, action="activate")
        grantee = self.institutions.get(v["grantee_institution"]) if v["grantee_institution"] else None
        data = {
            "kind": v["kind"],
            "practitioner_id": _obj_pk(row.person),
            "grantee_institution_id": grantee.pk if grantee else None,
            "supervisor_id": _obj_pk(row.supervisor),
            "valid_from": v["valid_from"],
            "valid_until": v["valid_until"],
            "max_grade": v["max_grade"],
            **{f: v[f] for f in (*AUTH_SCOPE, *AUTH_TEXT)},
        }
        assert row.institution_id is not None
        return authz_actions.create_authorization(
            self.actor,
            institution_id=row.institution_id,
            data=data,
            activate=v["status"] == AuthorizationStatus.ACTIVE,
        )

    # ---- all -----------------------------------------------------------------------------------

    def run(self) -> Result:
        """Parse, plan and write; the caller rolls back unless it is an apply with no errors."""
        self.parse()
        self.plan()
        self.write()
        return Result(self.rows)


def _qualification_key(q: Qualification) -> tuple[Any, ...]:
    return ((q.kind or ""), (q.number or "").strip(), q.subject or "", q.year, q.credit_class or "")


def _authorization_key(a: Authorization) -> tuple[Any, ...]:
    return (
        a.institution_id,
        a.kind,
        a.practitioner_id,
        a.grantee_institution_id,
        *(getattr(a, f) for f in AUTH_SCOPE),
        a.valid_from,
    )
