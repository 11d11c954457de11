"""``lib/fixedsql.FixedQuery``: rows equal ``values_list``'s for integer, string and list arguments; LIKE values
are escaped as Django escapes them; a string argument transformed by the build function is refused."""

from __future__ import annotations

import pytest
from django.db import connection

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


def _by_pk() -> FixedQuery:
    return FixedQuery(
        lambda ps: Organization.objects.filter(pk__in=ps).order_by("pk").values_list("pk", "name")
    )


def test_paged_queries_take_limit_and_offset_as_parameters(orgs, django_assert_num_queries):
    paged = FixedQuery(
        lambda k: Organization.objects.filter(kind=k).order_by("pk").values_list("pk"), paged=True
    )
    every = [r[0] for r in Organization.objects.order_by("pk").values_list("pk")]
    k = OrganizationKind.INSTITUTION
    with django_assert_num_queries(1):
        assert [r[0] for r in paged.run(k, limit=2, offset=0)] == every[:2]
    assert [r[0] for r in paged.run(k, limit=2, offset=2)] == every[2:4]
    assert [r[0] for r in paged.run(k, limit=100, offset=5)] == every[5:]
    assert paged.run(k, limit=3, offset=len(every)) == []
    assert len(paged._compiled) == 1  # every page is one statement
    with pytest.raises(TypeError, match="limit"):
        paged.run(k)
    with pytest.raises(TypeError, match="limit"):
        _by_pk().run([1], limit=1)
    with pytest.raises(ValueError, match=">= 0"):
        paged.run(k, limit=-1)
    sliced = FixedQuery(lambda k: Organization.objects.filter(kind=k).values_list("pk")[:3], paged=True)
    with pytest.raises(ValueError, match="must not slice"):
        sliced.run(k, limit=1)


def _prepared(sql_part: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [s for (s,) in cursor.fetchall() if sql_part in s]


@pytest.mark.django_db(transaction=True)
def test_postgresql_prepares_each_shape_once_per_connection(orgs, django_assert_num_queries, settings):
    """On PostgreSQL a compiled query is a server-side prepared statement (planned once per connection, ADR
    0020): one per shape whatever the size of the integers, again on a new connection, none when switched off;
    no other query of the connection is prepared, and the query log still counts it. SQLite runs it as is."""
    fq = _by_pk()
    pks = sorted(o.pk for o in orgs.values())
    marker = '"core_organization"."id" IN ($1)'
    for pk in (pks[0], 2**40, pks[-1]):  # an int2-sized and an int8-sized value: one statement
        with django_assert_num_queries(1) as logged:
            got = fq.run([pk])
        assert got == _ref(pk=pk)
        sql = logged.captured_queries[0]["sql"]  # the log shows the statement with its value
        assert sql.startswith("SELECT") and str(pk) in sql
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite" and len(fq._compiled) == 1
        return
    assert len(_prepared(marker)) == 1
    assert connection.connection.prepare_threshold is None  # Django's own setting is left as it was
    list(Organization.objects.filter(pk__in=[pks[0]]).values_list("pk"))  # an ORM query is not prepared
    assert len(_prepared('"core_organization"."id" IN ($1)')) == 1
    connection.close()  # a new connection starts without the statement and prepares it again
    assert fq.run([pks[1]]) == _ref(pk=pks[1])
    assert len(_prepared(marker)) == 1
    connection.close()
    settings.DB_PREPARED_STATEMENTS = False
    assert fq.run([pks[2]]) == _ref(pk=pks[2])
    assert _prepared(marker) == []
