"""The role rules as querysets (projects.permissions): they hold for exactly the projects the per-object
predicates do, for members, admins, outsiders, operators and project-bound tokens alike."""

from __future__ import annotations

import pytest

from core.exceptions import InvalidParams
from projects.models import Project, Role
from projects.permissions import (
    annotate_caller_role,
    is_project_admin,
    projects_administered_by,
    projects_member_of,
    role_in,
)
from projects.selectors import project_for_submission
from projects.services import membership_set, token_authenticate, token_create
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


class Setup:
    """``user`` administers p1 and is a member of p2; p3 is nobody's; ``operator`` is staff, in no project."""

    def __init__(self):
        self.p1, self.p2, self.p3 = make_project("p1"), make_project("p2"), make_project("p3")
        self.user = make_user("both")
        membership_set(project=self.p1, user=self.user, role=Role.ADMIN)
        membership_set(project=self.p2, user=self.user, role=Role.MEMBER)
        self.operator = make_user("operator", staff=True)

    def bound(self, user):
        """``user`` as a token bound to p2 authenticates them."""
        return token_authenticate(token_create(user=user, project=self.p2)[1]).user


@pytest.fixture
def s() -> Setup:
    return Setup()


def slugs(projects) -> set[str]:
    return {project.slug for project in projects}


def test_member_of_is_every_membership_whatever_the_role(s):
    """An admin and a member role both count; a project without the user does not."""
    assert slugs(projects_member_of(s.user)) == {"p1", "p2"}


def test_administered_by_is_only_the_admin_role(s):
    """Only p1, where the user is an admin."""
    assert slugs(projects_administered_by(s.user)) == {"p1"}


def test_staff_administer_every_project_but_are_members_of_none(s):
    """An operator administers all three projects, yet has no membership of their own."""
    assert slugs(projects_administered_by(s.operator)) == {"p1", "p2", "p3"}
    assert not projects_member_of(s.operator).exists()


def test_a_bound_token_keeps_to_its_project(s):
    """Bound to p2, the p1 admin is a member of p2 only and administers nothing."""
    bound = s.bound(s.user)
    assert slugs(projects_member_of(bound)) == {"p2"}
    assert not projects_administered_by(bound).exists()
    assert slugs(projects_administered_by(s.bound(s.operator))) == {"p2"}


def test_within_token_false_leaves_the_binding_out(s):
    """get_jobs' all_users check sees the p1 admin role through a p2-bound token."""
    assert slugs(projects_administered_by(s.bound(s.user), within_token=False)) == {"p1"}


@pytest.mark.parametrize("who", ["user", "operator", "bound user", "bound operator"])
def test_querysets_and_annotation_agree_with_the_predicates(s, who):
    """For every project: member_of is role_in, administered_by and caller_is_admin are is_project_admin."""
    user = getattr(s, who.split()[-1])
    if who.startswith("bound"):
        user = s.bound(user)
    member_of, administered = set(projects_member_of(user)), set(projects_administered_by(user))
    for project in annotate_caller_role(Project.objects.all(), user):
        assert project.caller_role == role_in(user, project)
        assert project.caller_is_admin is is_project_admin(user, project)
        assert (project in member_of) is (role_in(user, project) is not None)
        assert (project in administered) is is_project_admin(user, project)


def test_annotation_names_the_callers_role(s):
    """caller_role is the membership's role, None where there is none."""
    roles = {p.slug: (p.caller_role, p.caller_is_admin) for p in annotate_caller_role(Project.objects.all(), s.user)}
    assert roles == {"p1": (Role.ADMIN, True), "p2": (Role.MEMBER, False), "p3": (None, False)}


def test_role_in_reads_the_annotated_role_for_its_own_caller_only(s, django_assert_num_queries):
    """A project read with annotate_caller_role answers role_in for that caller without a query; asked
    about someone else, role_in reads that person's own membership."""
    p1 = annotate_caller_role(Project.objects.filter(slug="p1"), s.user).get()
    with django_assert_num_queries(0):
        assert role_in(s.user, p1) == Role.ADMIN
    stranger = make_user("stranger")
    with django_assert_num_queries(1):
        assert role_in(stranger, p1) is None
    # A bound token's binding still holds over the annotation: p1 is out of its reach.
    assert role_in(s.bound(s.user), p1) is None


def test_role_in_reads_the_membership_as_it_is_now(s):
    """Unannotated (a project-bound token's project), role_in reads the caller's membership in that
    project on each call: a changed or removed role holds on the next one."""
    bound = s.bound(s.user)
    assert (role_in(s.user, s.p1), role_in(s.user, s.p2), role_in(s.user, s.p3)) == (Role.ADMIN, Role.MEMBER, None)
    assert role_in(bound, s.p2) == Role.MEMBER
    membership_set(project=s.p2, user=s.user, role=Role.ADMIN)
    assert role_in(bound, s.p2) == Role.ADMIN
    s.user.memberships.filter(project=s.p2).delete()
    assert role_in(bound, s.p2) is None


def test_a_bound_tokens_project_comes_with_the_callers_role(s, django_assert_num_queries):
    """The token lookup reads the caller's role in the token's project, so a bound token's submit
    asks no membership of its own; the next request reads the role as it is then."""
    raw = token_create(user=s.user, project=s.p2)[1]
    token = token_authenticate(raw)
    with django_assert_num_queries(0):
        assert role_in(token.user, token.project) == Role.MEMBER
    s.user.memberships.filter(project=s.p2).delete()
    token = token_authenticate(raw)
    with django_assert_num_queries(0):
        assert role_in(token.user, token.project) is None


def test_a_submit_naming_no_project_goes_to_the_callers_only_one(s, django_assert_num_queries):
    """One statement, compiled once for every caller: each caller gets their own project, read with
    their own role (role_in then asks nothing), and a caller of several projects or of none is told
    to name one."""
    only = make_user("only")
    membership_set(project=s.p3, user=only, role=Role.ADMIN)
    other = make_user("other")
    membership_set(project=s.p1, user=other, role=Role.MEMBER)
    for user, slug, role in ((only, "p3", Role.ADMIN), (other, "p1", Role.MEMBER)):
        with django_assert_num_queries(1):
            project = project_for_submission(user=user, token=None, project_id=None)
            assert (project.slug, role_in(user, project), is_project_admin(user, project)) == (
                slug, role, role == Role.ADMIN,
            )  # fmt: skip
    for user, message in ((s.user, "several projects"), (s.operator, "not a member of any project")):
        with pytest.raises(InvalidParams, match=message):
            project_for_submission(user=user, token=None, project_id=None)
    membership_set(project=s.p2, user=s.operator, role=Role.MEMBER)
    project = project_for_submission(user=s.operator, token=None, project_id=None)
    assert (project.slug, role_in(s.operator, project), is_project_admin(s.operator, project)) == (
        "p2", Role.MEMBER, True,
    )  # fmt: skip
    # A bound token's caller submits to the token's project, whatever else it belongs to.
    bound = token_authenticate(token_create(user=s.user, project=s.p2)[1])
    assert project_for_submission(user=bound.user, token=bound, project_id=None) == s.p2
