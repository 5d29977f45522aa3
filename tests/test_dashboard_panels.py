"""Dashboard panels: clients who need attention and recent completions, per role."""

import datetime
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from wagtail_coaching.admin.panels import (
    ClientsNeedingAttentionPanel,
    RecentCompletionsPanel,
    clients_needing_attention,
    recent_completions,
)
from wagtail_coaching.journeys import complete_activity, enroll_many
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import UserFactory, make_engagement

from .test_admin_clients import admin_world, as_user, card_url

ATTENTION = "Clients who need attention"
COMPLETIONS = "Recent completions"


def build_shared_world():
    return admin_world()


@pytest.fixture
def world(shared):
    return shared


def names(rows):
    return sorted(row["name"] for row in rows)


def sessions_engagement(world, slug="sessions"):
    """An engagement of team A whose first step is 1:1 sessions, open at once."""
    return make_engagement(
        program=[programs.stage("Work", [
            programs.activity("one_to_one", "Kick-off call", rule="immediately"),
            programs.activity("lesson", "Read this", rule="immediately"),
        ])],
        title=f"Sessions {slug}", slug=slug, team=world.team_a, assignment_policy="manual",
    )


@pytest.mark.parametrize("who, shown", [
    ("admin", True), ("coach_a", True), ("coach_b", True),
    ("hr_acme", False), ("sales", False),
])
def test_panels_show_to_people_who_work_on_journeys(client, world, who, shown):
    html = as_user(client, getattr(world, who)).get("/admin/").content.decode()
    assert (ATTENTION in html) is shown
    assert (COMPLETIONS in html) is shown


def test_a_waiting_coach_step_needs_attention(world):
    engagement = sessions_engagement(world)
    newcomer = UserFactory(username="newcomer", first_name="Nina", last_name="New")
    enroll_many([newcomer], engagement)
    rows = clients_needing_attention(world.coach_a)
    assert names(rows) == ["Nina New"]
    assert rows[0]["waiting"] == "Kick-off call"
    assert clients_needing_attention(world.coach_b) == []


def test_quiet_clients_need_attention_after_the_set_days(world):
    later = timezone.now() + datetime.timedelta(days=8)
    assert clients_needing_attention(world.coach_a) == []
    assert names(clients_needing_attention(world.coach_a, now=later)) == ["Abe Private", "Ada Acme"]
    assert names(clients_needing_attention(world.coach_b, now=later)) == ["Bea Globex"]
    with override_settings(WAGTAIL_COACHING={"ATTENTION_AFTER_DAYS": 30}):
        assert clients_needing_attention(world.coach_a, now=later) == []


def test_paused_clients_do_not_need_attention(world):
    from wagtail_coaching.journeys import pause_enrollment

    pause_enrollment(world.enrollment_a2)
    later = timezone.now() + datetime.timedelta(days=8)
    assert names(clients_needing_attention(world.coach_a, now=later)) == ["Ada Acme"]


def test_recent_completions(world):
    welcome = world.enrollment_a1.activities.get(title="Welcome")
    complete_activity(welcome, actor=world.client_a1)
    rows = recent_completions(world.coach_a)
    assert [(r["name"], r["what"]) for r in rows] == [("Ada Acme", "Welcome")]
    assert rows[0]["url"] == card_url(world.enrollment_a1)
    assert recent_completions(world.coach_b) == []


def test_panel_names_open_the_card(client, world):
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), actor=world.client_a1)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        html = as_user(client, world.coach_a).get("/admin/").content.decode()
    link = f'<a href="{card_url(world.enrollment_a1)}" data-coaching-card>Ada Acme</a>'
    assert html.count(link) == 2  # in both panels
    assert "Bea Globex" not in html


def test_a_hostile_name_is_escaped_in_the_panel(client, world):
    world.client_a1.first_name = "<script>alert(1)</script>"
    world.client_a1.save()
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), actor=world.client_a1)
    html = as_user(client, world.coach_a).get("/admin/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def render_queries(rf, user_pk):
    user = get_user_model().objects.get(pk=user_pk)
    request = rf.get("/admin/")
    request.user = user
    with CaptureQueriesContext(connection) as queries:
        for panel in (ClientsNeedingAttentionPanel(request), RecentCompletionsPanel(request)):
            panel.render_html({})
    return len(queries)


def add_clients(world, engagement, count, prefix):
    clients = [UserFactory(username=f"{prefix}{i}") for i in range(count)]
    created, _ = enroll_many(clients, engagement)
    for enrollment in created:
        complete_activity(enrollment.activities.get(title="Read this"), actor=enrollment.client)
    return created


def test_the_panels_query_count_does_not_grow_with_clients(rf, world):
    few = sessions_engagement(world, "few")
    add_clients(world, few, 3, "few")
    assert len(clients_needing_attention(world.coach_a)) == 3
    with_three = render_queries(rf, world.coach_a.pk)
    many = sessions_engagement(world, "many")
    add_clients(world, many, 27, "many")
    assert len(clients_needing_attention(world.coach_a, limit=100)) == 30
    assert render_queries(rf, world.coach_a.pk) == with_three


# -- Your companies (HR partners) ----------------------------------------------------------------

COMPANIES = "Your companies"


def consenting(username, **names):
    from wagtail_coaching.models import Consent, ConsentPurpose

    user = UserFactory(username=username, **names)
    Consent.objects.create(client=user, purpose=ConsentPurpose.SHARE_PROGRESS, granted=True,
                           at=timezone.now())
    return user


def session_event(enrollment, kind, days_ago):
    from wagtail_coaching.models import JourneyEvent

    return JourneyEvent.objects.create(
        enrollment=enrollment, kind=kind, at=timezone.now() - datetime.timedelta(days=days_ago)
    )


@pytest.mark.parametrize("who, shown", [
    ("hr_acme", True), ("hr_globex", True),
    # Admins and coaches have the coaching reports and their charts instead.
    ("admin", False), ("coach_a", False), ("sales", False),
])
def test_the_companies_panel_shows_to_hr_partners(client, world, who, shown):
    html = as_user(client, getattr(world, who)).get("/admin/").content.decode()
    assert (COMPANIES in html) is shown


def test_the_companies_panel_figures(client, world):
    from wagtail_coaching.admin.company_panel import company_rows
    from wagtail_coaching.journeys import enroll
    from wagtail_coaching.models import EventKind

    # Acme: Ada (consents) and a second consenting client, Cleo; Abe (no consent) is not
    # counted. Engagement A has three steps each: Ada completes one, Cleo none: 1 of 6.
    cleo = consenting("cleo", first_name="Cleo", last_name="Second")
    cleo_enrollment = enroll(cleo, world.engagement_a, company=world.acme)
    complete_activity(world.enrollment_a1.activities.get(title="Welcome"), actor=world.client_a1)
    complete_activity(world.enrollment_a2.activities.get(title="Welcome"), actor=world.client_a2)
    # Attended in the last 30 days: Ada 5 days ago and Cleo 29 days ago; not Ada 40 days ago,
    # not Ada's missed session, not Abe's attendance.
    session_event(world.enrollment_a1, EventKind.SESSION_ATTENDED, 5)
    session_event(cleo_enrollment, EventKind.SESSION_ATTENDED, 29)
    session_event(world.enrollment_a1, EventKind.SESSION_ATTENDED, 40)
    session_event(world.enrollment_a1, EventKind.SESSION_MISSED, 2)
    session_event(world.enrollment_a2, EventKind.SESSION_ATTENDED, 1)

    acme_url = f"/admin/coaching/reports/company/?company={world.acme.pk}"
    assert company_rows(world.hr_acme) == [{
        "name": "Acme", "clients": 2, "progress": 16.7, "attended": 2, "url": acme_url,
    }]
    globex_url = f"/admin/coaching/reports/company/?company={world.globex.pk}"
    assert company_rows(world.hr_globex) == [{
        "name": "Globex", "clients": 1, "progress": 0.0, "attended": 0, "url": globex_url,
    }]
    # Bea withdraws her consent: Globex's HR partner has nobody left to see.
    from wagtail_coaching.models import Consent, ConsentPurpose

    Consent.objects.filter(client=world.client_b1, purpose=ConsentPurpose.SHARE_PROGRESS
                           ).update(granted=False, at=timezone.now())
    assert company_rows(world.hr_globex) == []

    html = as_user(client, world.hr_acme).get("/admin/").content.decode()
    panel = html.split('id="coaching-your-companies-section"')[1].split("</section>")[0]
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", panel, re.S)]
    assert cells == [f'<a href="{acme_url}">Acme</a>', "2", "16.7%", "2"]
    assert "Globex" not in panel
    # The link opens the company report on Acme's clients.
    report = client.get(acme_url).content.decode()
    assert "Ada Acme" in report and "Cleo Second" in report and "Abe Private" not in report

    as_user(client, world.hr_globex)
    assert "No client of your companies shares their progress yet." in client.get(
        "/admin/").content.decode()


def companies_panel_queries(rf, user):
    from wagtail_coaching.admin.company_panel import YourCompaniesPanel

    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(pk=user.pk)
    YourCompaniesPanel(request).render_html({})  # warm the per-process caches
    request.user = get_user_model().objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        html = YourCompaniesPanel(request).render_html({})
    return len(queries), html


def test_the_companies_panel_query_count_does_not_grow(rf, world, django_assert_max_num_queries):
    from wagtail_coaching.admin.company_panel import YourCompaniesPanel
    from wagtail_coaching.models import Company, EventKind

    small, html = companies_panel_queries(rf, world.hr_acme)
    assert small == 4, small  # the viewer's roles, companies, steps, attended sessions
    assert ">Acme<" in html
    # Forty more consenting clients, in Acme and in two more companies of the same partner,
    # each with an attended session.
    for index in range(2):
        company = Company.objects.create(name=f"Initech {index}")
        company.hr_partners.add(world.hr_acme)
    companies = [world.acme, *Company.objects.filter(name__startswith="Initech")]
    for index in range(40):
        user = consenting(f"many{index}")
        enrollment, = enroll_many([user], world.engagement_a,
                                  company=companies[index % 3])[0]
        session_event(enrollment, EventKind.SESSION_ATTENDED, 3)
    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(pk=world.hr_acme.pk)
    with django_assert_max_num_queries(small):
        html = YourCompaniesPanel(request).render_html({})
    assert html.count("<tr>") == 1 + 3  # the heading row and one per company
    assert ">Initech 1<" in html
