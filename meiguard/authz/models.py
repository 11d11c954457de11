from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from meiguard.audit.models import AppendOnlyError
from meiguard.core.access import TenantPolicy, TenantQuerySet
from meiguard.core.choices import INSTITUTION_WRITERS, Role
from meiguard.registry.validators import validate_evidence_file

from .choices import AuthorizationKind, AuthorizationStatus, DecisionChannel, TechnologyKind

AUTHORIZATION_WRITERS = INSTITUTION_WRITERS | {Role.MEDICAL_DIRECTOR}


class Authorization(models.Model):
    """授权档案: who may do what (procedure / product / device / technology) where, from when to when."""

    kind = models.CharField(_("授权类型"), max_length=16, choices=AuthorizationKind.choices)
    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="authorizations",
        verbose_name=_("机构"),
    )
    practitioner = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="authorizations",
        verbose_name=_("被授权人"),
    )
    # Technology authorizations are granted to an institution (the grantee) by another (the grantor).
    grantee_institution = models.ForeignKey(
        "registry.Institution",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="technology_grants",
        verbose_name=_("被授权机构"),
    )
    grantor = models.CharField(_("授权方"), max_length=128)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("批准人"),
    )
    # Scope: exactly one of procedure / category / subject for qualification authorizations.
    procedure_code = models.CharField(_("项目编码"), max_length=64, blank=True, db_index=True)
    procedure_category = models.CharField(_("项目类别"), max_length=32, blank=True)
    subject = models.CharField(_("专业"), max_length=32, blank=True)
    product_brand = models.CharField(_("产品品牌"), max_length=128, blank=True)
    device_model = models.CharField(_("设备型号"), max_length=128, blank=True)
    technology_name = models.CharField(_("技术名称"), max_length=128, blank=True)
    technology_kind = models.CharField(
        _("技术授权类别"), max_length=16, choices=TechnologyKind.choices, blank=True
    )
    scope_note = models.TextField(_("范围说明"), blank=True)
    valid_from = models.DateField(_("生效日期"))
    valid_until = models.DateField(_("截止日期"), null=True, blank=True)
    max_grade = models.PositiveSmallIntegerField(_("最高手术级别"), null=True, blank=True)
    supervisor = models.ForeignKey(
        "registry.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supervised_authorizations",
        verbose_name=_("指定指导主诊医师"),
    )
    conditions_note = models.TextField(_("附加条件"), blank=True)
    agreement = models.FileField(
        _("授权协议"), upload_to="authz/agreements/%Y/", blank=True, validators=[validate_evidence_file]
    )
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=AuthorizationStatus.choices,
        default=AuthorizationStatus.DRAFT,
        db_index=True,
    )
    status_reason = models.TextField(_("状态原因"), blank=True)
    renews = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renewals",
        verbose_name=_("续期自"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization", "grantee_institution__organization"),
        write_path="institution__organization",
        write_roles=AUTHORIZATION_WRITERS,
    )

    class Meta:
        verbose_name = _("授权")
        verbose_name_plural = _("授权档案")
        ordering = ["-valid_from", "-pk"]
        indexes = [
            models.Index(fields=["practitioner", "institution", "status"], name="authz_prac_inst_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="authz_valid_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_grade__isnull=True) | models.Q(max_grade__gte=1, max_grade__lte=4),
                name="authz_max_grade_range",
            ),
        ]

    def __str__(self) -> str:
        from meiguard.rules.choices import Subject
        from meiguard.rules.labels import procedure_name

        subject = dict(Subject.choices).get(self.subject, self.subject) if self.subject else ""
        target = procedure_name(self.procedure_code) or self.procedure_category or subject
        target = target or self.product_brand or self.device_model or self.technology_name
        who = self.practitioner or self.grantee_institution or ""
        return f"#{self.pk} {self.get_kind_display()} {who} · {target}"

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id

    def scope_key(self) -> tuple[str, ...]:
        """What the authorization covers; two in force with the same key and overlapping terms are a duplicate."""
        return (
            self.kind,
            str(self.institution_id),
            str(self.practitioner_id or ""),
            str(self.grantee_institution_id or ""),
            self.procedure_code,
            self.procedure_category,
            self.subject,
            self.product_brand,
            self.device_model,
            self.technology_name,
        )

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        scope = [f for f in ("procedure_code", "procedure_category", "subject") if getattr(self, f)]
        if self.kind == AuthorizationKind.QUALIFICATION:
            if self.practitioner_id is None:
                errors["practitioner"] = _("资质授权须指定被授权人")
            if not scope:
                errors["procedure_code"] = _("须指定项目、项目类别或专业之一")
            elif "procedure_code" in scope and len(scope) > 1:
                errors["procedure_code"] = _("指定了项目编码时不再指定类别或专业")
        elif self.kind == AuthorizationKind.PRODUCT:
            if not self.product_brand:
                errors["product_brand"] = _("产品授权须指定品牌")
            if self.practitioner_id is None:
                errors["practitioner"] = _("产品授权须指定被授权人")
        elif self.kind == AuthorizationKind.DEVICE:
            if not self.device_model:
                errors["device_model"] = _("设备授权须指定设备型号")
            if self.practitioner_id is None:
                errors["practitioner"] = _("设备授权须指定被授权人(操作人员)")
        elif self.kind == AuthorizationKind.TECHNOLOGY:
            if not self.technology_name:
                errors["technology_name"] = _("技术授权须指定技术名称")
            if not self.technology_kind:
                errors["technology_kind"] = _("须说明是新技术研发还是成熟技术转让")
            if self.practitioner_id is None and self.grantee_institution_id is None:
                errors["grantee_institution"] = _("技术授权须指定被授权机构或人员")
        if self.valid_until is not None and self.valid_from and self.valid_until < self.valid_from:
            errors["valid_until"] = _("截止日期不能早于生效日期")
        if self.max_grade is not None and not 1 <= self.max_grade <= 4:
            errors["max_grade"] = _("手术级别应为 1–4")
        if errors:
            raise ValidationError(errors)


class AppendOnlyContent(models.Model):
    """A content-addressed row: named by the SHA-256 of its canonical JSON, never changed nor deleted."""

    digest = models.CharField(_("摘要"), max_length=64, primary_key=True)
    data = models.JSONField(_("事实快照"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.digest[:12]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("decision snapshots cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("decision snapshots cannot be deleted")


class DecisionSnapshotPack(AppendOnlyContent):
    """The rule-pack part of decision snapshots: what the packs in force say about one procedure at one kind
    of institution (limits, requirements, each with its rule and sources). A handful of these serve millions
    of decisions, so they are stored apart from the people and lots (``data`` is ``codec.encode(PackFacts)``,
    ``digest`` its ``codec.part_digest``)."""

    class Meta:
        verbose_name = _("规则事实")
        verbose_name_plural = _("规则事实")


class DecisionSnapshot(AppendOnlyContent):
    """The facts a decision was made on, stored once per distinct content (content-addressed, append-only).

    Thousands of decisions share a snapshot (the same practitioner, lots and rules on the same day); keeping it
    once keeps each log row small. Readable only through the decision log rows that reference it. ``data``
    holds the people, lots and devices; the rule-pack part is the shared ``pack`` row. ``digest`` is
    ``codec.snapshot_digest`` of ``facts()`` (the combination of the parts' digests).
    """

    pack = models.ForeignKey(
        DecisionSnapshotPack,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("规则事实"),
    )

    class Meta:
        verbose_name = _("事实快照")
        verbose_name_plural = _("事实快照")

    def facts(self) -> dict[str, Any]:
        """The whole snapshot's JSON form, as ``codec.decode(Snapshot, …)`` reads it (one query for the pack
        part unless it was selected with ``select_related("snapshot__pack")``)."""
        return {"pack": self.pack.data, **self.data}


class DecisionLogQuerySet(TenantQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("decision log entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("decision log entries cannot be deleted")


class DecisionLog(models.Model):
    """Every decision, append-only: the request, outcome, reasons, rule-pack version and the snapshot used."""

    # No single-column FK indexes: the (institution, -created_at) and (practitioner, -created_at) indexes below
    # serve those lookups, and every index costs time on the hot insert.
    institution = models.ForeignKey(
        "registry.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("机构"),
        db_index=False,
    )
    practitioner = models.ForeignKey(
        "registry.Practitioner",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("执业人员"),
        db_index=False,
    )
    procedure_code = models.CharField(_("项目编码"), max_length=64)
    at = models.DateTimeField(_("核验时点"))
    outcome = models.CharField(_("结论"), max_length=24)
    reason_codes = models.JSONField(_("原因代码"), default=list)
    reasons = models.JSONField(_("原因"), default=list)
    request = models.JSONField(_("请求"))
    snapshot = models.ForeignKey(
        DecisionSnapshot,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("事实快照"),
    )
    rule_pack = models.CharField(_("规则包版本"), max_length=64)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("请求人"),
    )
    actor_label = models.CharField(_("请求人"), max_length=150)
    channel = models.CharField(_("渠道"), max_length=8, choices=DecisionChannel.choices)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True, db_index=True)

    objects = DecisionLogQuerySet.as_manager()
    tenancy = TenantPolicy(
        read_paths=("institution__organization",),
        write_path="institution__organization",
        write_roles=frozenset(),
    )

    class Meta:
        verbose_name = _("核验记录")
        verbose_name_plural = _("核验记录")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["institution", "-created_at"], name="dlog_inst_created"),
            models.Index(fields=["practitioner", "-created_at"], name="dlog_prac_created"),
            models.Index(fields=["procedure_code", "-created_at"], name="dlog_proc_created"),
            models.Index(fields=["outcome", "-created_at"], name="dlog_outcome_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.procedure_code} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("decision log entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("decision log entries cannot be deleted")

    def audit_organization_id(self) -> int | None:
        return self.institution.organization_id


__all__ = [
    "Authorization",
    "AuthorizationKind",
    "AuthorizationStatus",
    "DecisionChannel",
    "DecisionLog",
    "DecisionSnapshot",
    "DecisionSnapshotPack",
]
