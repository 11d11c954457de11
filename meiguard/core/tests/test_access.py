from meiguard.core.access import Actor, build_actor
from meiguard.core.choices import Role
from meiguard.core.models import Membership, Organization


def test_it_builds_roles_per_organization(world):
    actor = world.actor("wang")
    assert actor.roles_by_org == {world.org_jia.pk: frozenset({Role.INSTITUTION_ADMIN})}
    assert not actor.is_platform_admin
    assert actor.overseen_org_ids == frozenset()


def test_auditor_reads_overseen_organizations_only(world):
    actor = world.actor("qian")
    assert actor.overseen_org_ids == frozenset({world.org_jia.pk})
    visible = set(Organization.objects.visible_to(actor).values_list("name", flat=True))
    assert visible == {"甲诊所", "长沙市医疗美容协会"}
    assert not Organization.objects.writable_by(actor).exists()


def test_it_hides_other_organizations_from_outsider(world):
    sun = world.actor("sun")
    assert list(Organization.objects.visible_to(sun)) == [world.org_yi]
    assert not Organization.objects.visible_to(sun).filter(pk=world.org_jia.pk).exists()


def test_roles_without_write_permission_cannot_write(world):
    assert not Organization.objects.writable_by(world.actor("li")).exists()
    assert list(Organization.objects.writable_by(world.actor("wang"))) == [world.org_jia]


def test_inactive_membership_grants_nothing(world):
    Membership.objects.filter(user=world.users["wang"]).update(is_active=False)
    actor = build_actor(world.users["wang"])
    assert actor.roles_by_org == {}
    assert not Organization.objects.visible_to(actor).exists()


def test_system_and_platform_admin_are_unrestricted(world):
    assert Organization.objects.visible_to(Actor.system()).count() == 3
    admin = world.users["sun"]
    admin.is_superuser = True
    admin.save()
    assert build_actor(admin).is_platform_admin


def test_anonymous_sees_nothing(world):
    assert not Organization.objects.visible_to(Actor.anonymous()).exists()


def test_build_actor_uses_two_queries_whatever_the_membership_count(world, django_assert_num_queries):
    qian = world.users["qian"]
    for i in range(20):
        org = Organization.objects.create(name=f"会员{i}", kind="institution")
        world.org_assoc.oversees.add(org)
    with django_assert_num_queries(2):
        actor = build_actor(qian)
    assert len(actor.overseen_org_ids) == 21


def test_acting_as_adds_roles_at_one_org_even_through_the_requests_lazy_proxy(world):
    from django.utils.functional import SimpleLazyObject

    from meiguard.core.choices import Role

    qian = world.actor("qian")
    lazy = SimpleLazyObject(lambda: qian)
    delegated = lazy.acting_as(world.org_jia.pk, {Role.COMPLIANCE_OFFICER})
    assert delegated.can_write_org(world.org_jia.pk, {Role.COMPLIANCE_OFFICER})
    assert not delegated.can_write_org(world.org_yi.pk, {Role.COMPLIANCE_OFFICER})
    assert (delegated.user_id, delegated.overseen_org_ids) == (qian.user_id, qian.overseen_org_ids)
    assert not qian.can_write_org(world.org_jia.pk, {Role.COMPLIANCE_OFFICER})  # the original is unchanged
