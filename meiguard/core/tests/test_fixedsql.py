"""``lib/fixedsql.FixedQuery``: rows equal ``values_list``'s for integer, string and list arguments; LIKE values
are escaped as Django escapes them; a string argument transformed by the build function is refused."""

from __future__ import annotations

import pytest

from meiguard.core.choices import OrganizationKind
from meiguard.core.models import Organization
from meiguard.lib.fixedsql import FixedQuery

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs():
    names = ("甲诊所", "甲_诊所", "甲%诊所", "乙医院", "ABC", "abc")
    return {n: Organization.objects.create(name=n, kind=OrganizationKind.INSTITUTION) for n in names}


def _ref(**filters) -> list[tuple]:
    return list(Organization.objects.filter(**filters).order_by("pk").values_list("pk", "name"))


def test_string_and_list_arguments_give_the_orm_rows(orgs, django_assert_num_queries):
    by_name = FixedQuery(
        lambda n: Organization.objects.filter(name=n).order_by("pk").values_list("pk", "name")
    )
    for name in orgs:
        with django_assert_num_queries(1):
            got = by_name.run(name)
        assert got == _ref(name=name) and len(got) == 1
    assert by_name.run("无此机构") == []
    in_names = FixedQuery(
        lambda ns, k: (
            Organization.objects.filter(name__in=ns, kind=k).order_by("pk").values_list("pk", "name")
        )
    )
    wanted = ["甲诊所", "ABC", "无"]
    assert in_names.run(wanted, OrganizationKind.INSTITUTION) == _ref(name__in=wanted)
    assert in_names.run(["乙医院"], OrganizationKind.INSTITUTION) == _ref(name="乙医院")  # another shape
    ids = FixedQuery(
        lambda ps, n: Organization.objects.filter(pk__in=ps, name=n).order_by("pk").values_list("pk")
    )
    pk = orgs["乙医院"].pk
    assert ids.run([pk, orgs["ABC"].pk], "乙医院") == [(pk,)]


@pytest.mark.parametrize("lookup", ["startswith", "contains", "endswith"])
def test_like_values_are_escaped_as_django_escapes_them(orgs, lookup):
    fq = FixedQuery(
        lambda v: (
            Organization.objects.filter(**{f"name__{lookup}": v}).order_by("pk").values_list("pk", "name")
        )
    )
    for value in ("甲", "甲_", "甲%", "_", "%", "诊所", "AB", "b", "\\"):
        assert fq.run(value) == _ref(**{f"name__{lookup}": value}), value


def test_a_transformed_string_argument_is_refused(orgs):
    fq = FixedQuery(lambda v: Organization.objects.filter(name__lt=v + "z").values_list("pk"))
    with pytest.raises(ValueError, match="transformed"):
        fq.run("甲")
    with pytest.raises(TypeError, match="mixes"):
        FixedQuery(lambda v: Organization.objects.filter(name__in=v).values_list("pk")).run(["a", 1])
