"""Safety net (after pretix): every meiguard model is either tenant-scoped or explicitly exempt."""

from django.apps import apps

from meiguard.core.access import TenantPolicy, TenantQuerySet

# Models with no tenant: each needs a reason.
EXEMPT = {
    "core.user": "identity; users are reached through memberships",
    "core.membership": "read only through build_actor; written by platform admins",
    "core.apitoken": "looked up by hash only; managed by platform admins",
    "audit.chainhead": "internal chain pointer, never exposed",
    "authz.decisionsnapshot": "content-addressed facts, read only through the decision log rows that name them",
    "authz.decisionsnapshotpack": "content-addressed rule-pack facts (no tenant data), read only through snapshots",
    "rules.rulepack": (
        "national and provincial rules are public reference data; an institution's own policy pack is read"
        " through rules.queries.may_read_pack and written only through rules.institution (test_institution_policy)"
    ),
    "rules.rulepackversion": "as rules.rulepack; published versions are immutable",
    "rules.rule": "as rules.rulepack; published versions are immutable",
    "rules.rulesgeneration": "one counter of rule publications; no tenant data",
    "notify.notification": "belongs to its recipient; every read filters on recipient=request.user",
    "lifecycle.jobrun": "platform scheduler bookkeeping (job, date, status); no tenant data, counts shown to platform admins only",
}


def test_every_model_is_tenant_scoped_or_exempt():
    missing = []
    for model in apps.get_models():
        if not model.__module__.startswith("meiguard."):
            continue
        label = model._meta.label_lower
        if label in EXEMPT:
            continue
        policy = getattr(model, "tenancy", None)
        if not isinstance(policy, TenantPolicy) or not isinstance(
            model._default_manager.all(), TenantQuerySet
        ):
            missing.append(label)
    assert missing == [], f"models without TenantPolicy/TenantQuerySet: {missing}"


def test_exempt_list_names_real_models():
    labels = {m._meta.label_lower for m in apps.get_models()}
    assert set(EXEMPT) - labels == set()
