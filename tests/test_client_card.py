"""The client card and its actions: what each role sees, what each may do, and that ids
from elsewhere change nothing."""

import pytest
from django.test import Client

from wagtail_coaching.journeys import complete_activity
from wagtail_coaching.models import (
    ActivitySource,
    ActivityState,
    ClientActivity,
    CoachAssignment,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    Notification,
    SessionNote,
)

from .test_admin_clients import (
    admin_world,
    as_user,
    card_url,
    is_login_redirect,
    message_texts,
)
from .text import mentions
from .world import coach_in


def build_shared_world():
    return admin_world()


@pytest.fixture
def world(shared):
    return shared


def step(enrollment, title):
    return enrollment.activities.get(title=title)


def stage_id(enrollment):
    return enrollment.engagement.program.raw_data[0]["id"]


def snapshot(enrollment):
    """Everything an action could change about an enrollment."""
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    return (
        enrollment.status, enrollment.client_id, enrollment.engagement_id, enrollment.company_id,
        sorted(enrollment.activities.values_list("public_id", "state", "source")),
        sorted(CoachAssignment.objects.filter(enrollment=enrollment).values_list(
            "coach_id", "role", "ended_at")),
        enrollment.notes.count(),
        enrollment.events.count(),
    )


# -- Seeing the card -------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [
    ("admin", 200), ("coach_a", 200), ("coach_a2", 200), ("hr_acme", 200),
    ("coach_b", 404), ("hr_globex", 404), ("sales", 404),
])
def test_who_may_open_a_card(client, world, who, status):
    response = as_user(client, getattr(world, who)).get(card_url(world.enrollment_a1))
    assert response.status_code == status
    if status == 404:
        html = response.content.decode()
        assert "Ada Acme" not in html and world.client_a1.email not in html


def test_clients_and_visitors_go_to_the_login(client, world):
    url = card_url(world.enrollment_a1)
    assert is_login_redirect(as_user(client, world.client_a1).get(url))
    assert is_login_redirect(as_user(client, None).get(url))


def test_hr_partners_see_only_consenting_clients(client, world):
    as_user(client, world.hr_acme)
    assert client.get(card_url(world.enrollment_a1)).status_code == 200
    assert client.get(card_url(world.enrollment_a2)).status_code == 404


def test_an_unknown_id_is_not_found(client, world):
    response = as_user(client, world.admin).get(
        "/admin/coaching/client/00000000-0000-0000-0000-000000000000/"
    )
    assert response.status_code == 404


def test_the_card_shows_profile_progress_next_step_and_coach(client, world):
    html = as_user(client, world.coach_a).get(card_url(world.enrollment_a1)).content.decode()
    assert "Ada Acme" in html and world.client_a1.email in html
    assert "Engagement A" in html
    assert "0% done (0 of 3 steps)" in html
    assert "Next step:" in html and "Welcome" in html
    assert world.coach_a.get_full_name() in html
    assert "Timeline" in html and "Enrolled" in html


@pytest.mark.parametrize("who", ["admin", "coach_a", "hr_acme"])
def test_the_card_page_has_no_link_without_an_address(client, world, who):
    as_user(client, getattr(world, who))
    pages = [card_url(world.enrollment_a1)]
    if who == "admin":
        pages.append(card_url(world.enrollment_a1, "erase_client"))
    for url in pages:
        html = client.get(url).content.decode()
        assert 'href=""' not in html, url
        # The breadcrumb's last item is the page itself: text, not a link.
        crumbs = html.split('aria-label="Breadcrumb"')[1].split("</nav>")[0]
        last = crumbs.rsplit("<li", 1)[1]
        assert "<a " not in last and ("Ada Acme" in last or "Anonymise" in last), url


def test_automation_is_folded_apart_in_the_timeline(client, world):
    from django.utils import timezone

    # More rule firings than the timeline holds: they used to push everything else out.
    JourneyEvent.objects.bulk_create([
        JourneyEvent(enrollment=world.enrollment_a1, kind=EventKind.RULE_FIRED,
                     at=timezone.now(), data={"name": f"Weekly nudge {i}"})
        for i in range(45)
    ])
    html = as_user(client, world.coach_a).get(card_url(world.enrollment_a1)).content.decode()
    timeline = html.split('<ol class="coaching-card__timeline">')[1].split("</ol>")[0]
    assert "Enrolled" in timeline and "Coach assigned" in timeline
    assert "Automation rule applied" not in timeline
    folded = html.split('class="coaching-card__history coaching-card__automation"')[1]
    folded = folded.split("</details>")[0]
    assert "<summary>Automation rules applied (40)</summary>" in folded
    assert folded.count("Automation rule applied: Weekly nudge") == 40
    assert "Weekly nudge 44" in folded and "Weekly nudge 4<" not in folded  # the latest
    # Without the journey detail there is no timeline, folded or not.
    html = as_user(client, world.hr_acme).get(card_url(world.enrollment_a1)).content.decode()
    assert "Automation rule" not in html and "Weekly nudge" not in html


def test_the_card_shows_assignment_history(client, world):
    from wagtail_coaching.journeys import assign_coach

    assign_coach(world.enrollment_a1, coach=world.coach_a2, actor=world.admin)
    html = as_user(client, world.admin).get(card_url(world.enrollment_a1)).content.decode()
    assert "Earlier coaches" in html
    earlier = html.split("Earlier coaches")[1].split("</details>")[0]
    assert world.coach_a.get_full_name() in earlier


def test_the_card_lists_every_enrollment_of_the_client_the_viewer_may_see(client, world):
    from wagtail_coaching.journeys import enroll

    enroll(world.client_a1, world.engagement_b, company=world.acme)
    html = as_user(client, world.admin).get(card_url(world.enrollment_a1)).content.decode()
    assert "Engagement A" in html and "Engagement B" in html
    # Coach A sees the client, but not the engagement of the other team.
    html = as_user(client, world.coach_a).get(card_url(world.enrollment_a1)).content.decode()
    assert "Engagement A" in html and "Engagement B" not in html


NOTES = {
    "coach": "coach note by coach_a",
    "team": "team note by coach_a",
    "client": "client note by coach_a",
}


@pytest.mark.parametrize("who, shown", [
    ("coach_a", {"coach", "team", "client"}),  # the author
    ("coach_a2", {"team", "client"}),  # same team
    ("admin", {"team", "client"}),
    ("hr_acme", set()),
])
def test_notes_follow_their_visibility(client, world, who, shown):
    html = as_user(client, getattr(world, who)).get(card_url(world.enrollment_a1)).content.decode()
    assert {k for k, body in NOTES.items() if body in html} == shown


def test_answers_and_check_in_values_need_the_journey_detail(client, world):
    e = world.enrollment_a1
    complete_activity(step(e, "Welcome"), actor=world.client_a1)
    complete_activity(step(e, "How are you?"), actor=world.client_a1, score=7,
                      response={"note": "my secret worry"})
    html = as_user(client, world.coach_a).get(card_url(e)).content.decode()
    assert "Score: 7" in html and "my secret worry" in html and "Timeline" in html
    html = as_user(client, world.hr_acme).get(card_url(e)).content.decode()
    assert "67% done" in html  # progress, yes
    assert not mentions(html, "Score") and "my secret worry" not in html
    assert "Timeline" not in html
    assert "<form" not in html  # no actions


def test_the_fragment_is_only_the_panel(client, world):
    as_user(client, world.coach_a)
    for response in (
        client.get(card_url(world.enrollment_a1), {"panel": "1"}),
        client.get(card_url(world.enrollment_a1), HTTP_X_REQUESTED_WITH="XMLHttpRequest"),
    ):
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html and "data-coaching-card-panel" in html
        assert "Ada Acme" in html
    page = client.get(card_url(world.enrollment_a1)).content.decode()
    assert "<html" in page and "data-coaching-card-panel" in page


def test_actions_show_only_where_allowed(client, world):
    url = card_url(world.enrollment_a1)
    admin_html = as_user(client, world.admin).get(url).content.decode()
    coach_html = as_user(client, world.coach_a2).get(url).content.decode()
    hr_html = as_user(client, world.hr_acme).get(url).content.decode()
    for name in ("extra-activity", "unlock", "skip", "pause", "note"):
        assert f"{url}{name}/" in admin_html
        assert f"{url}{name}/" in coach_html
        assert f"{url}{name}/" not in hr_html
    assert f"{url}reassign/" in admin_html
    assert f"{url}reassign/" not in coach_html


SCRIPT = "<script>alert(1)</script>"


def test_a_hostile_name_is_escaped_on_the_card(client, world):
    world.client_a1.first_name = SCRIPT
    world.client_a1.save()
    as_user(client, world.coach_a)
    for params in ({}, {"panel": "1"}):
        html = client.get(card_url(world.enrollment_a1), params).content.decode()
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- Actions: allowed ------------------------------------------------------------------------

def test_add_an_extra_activity(client, world):
    e = world.enrollment_a1
    response = as_user(client, world.coach_a).post(card_url(e, "add_extra_activity"), {
        "kind": "practice", "title": "Breathe", "text": "Four counts in,\nfour out.",
        "stage": stage_id(e),
    })
    assert response.status_code == 302 and response["Location"] == card_url(e)
    row = ClientActivity.objects.get(enrollment=e, title="Breathe")
    assert row.source == ActivitySource.EXTRA
    assert row.state == ActivityState.AVAILABLE
    assert row.kind == "practice" and row.stage_block_id == stage_id(e)
    assert "<p>Four counts in,<br>four out.</p>" in row.value["instructions"]
    assert JourneyEvent.objects.filter(
        enrollment=e, activity=row, kind=EventKind.EXTRA_ADDED, actor=world.coach_a
    ).exists()
    assert any("Breathe" in m for m in message_texts(response))
    html = client.get(card_url(e)).content.decode()
    assert "Breathe" in html


@pytest.mark.parametrize("kind, text", [
    ("lesson", "Read <b>this</b>"), ("check_in", "Energy"), ("feedback", "How was it?"),
])
def test_every_extra_kind_builds_a_valid_block(client, world, kind, text):
    e = world.enrollment_a2
    response = as_user(client, world.admin).post(card_url(e, "add_extra_activity"), {
        "kind": kind, "title": f"Extra {kind}", "text": text, "stage": "",
    })
    assert response.status_code == 302
    row = ClientActivity.objects.get(enrollment=e, title=f"Extra {kind}")
    assert row.kind == kind and row.source == ActivitySource.EXTRA
    if kind == "lesson":
        assert "&lt;b&gt;" in row.value["body"]  # the coach's text is text, not markup


def test_unlock_and_skip(client, world):
    e = world.enrollment_a1
    later = step(e, "Later")
    as_user(client, world.coach_a2)  # same team
    response = client.post(card_url(e, "unlock_activity"), {"activity": later.public_id})
    later.refresh_from_db()
    assert response.status_code == 302 and later.state == ActivityState.AVAILABLE
    assert JourneyEvent.objects.filter(activity=later, kind=EventKind.UNLOCKED).exists()
    how = step(e, "How are you?")
    client.post(card_url(e, "skip_activity"), {"activity": how.public_id})
    how.refresh_from_db()
    assert how.state == ActivityState.SKIPPED
    assert JourneyEvent.objects.filter(activity=how, kind=EventKind.SKIPPED).exists()


def test_reassign_hands_the_client_over_and_tells_everyone(client, world):
    e = world.enrollment_a1
    old = CoachAssignment.objects.get(enrollment=e, ended_at__isnull=True)
    response = as_user(client, world.admin).post(
        card_url(e, "reassign_coach"), {"coach": world.coach_a2.pk}
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.ended_at is not None
    new = CoachAssignment.objects.get(enrollment=e, ended_at__isnull=True)
    assert new.coach == world.coach_a2 and new.assigned_by == world.admin
    kinds = dict(
        Notification.objects.filter(dedup_key__startswith=f"assignment:{new.pk}:")
        .values_list("recipient_id", "kind")
    )
    assert kinds == {
        world.coach_a.pk: "coach_client_moved",
        world.coach_a2.pk: "coach_new_client",
        world.client_a1.pk: "client_coach_assigned",
    }
    assert JourneyEvent.objects.filter(enrollment=e, kind=EventKind.COACH_ASSIGNED,
                                       actor=world.admin).exists()


def test_the_reassign_choices_are_the_available_coaches(client, world):
    coach_in(world.team_b, "coach_b2")
    html = as_user(client, world.admin).get(card_url(world.enrollment_a1)).content.decode()
    form = html.split(card_url(world.enrollment_a1, "reassign_coach"))[1].split("</form>")[0]
    assert f'value="{world.coach_a2.pk}"' in form
    assert f'value="{world.coach_a.pk}"' not in form  # the current coach
    assert f'value="{world.coach_b.pk}"' not in form  # another team


def test_pause_and_resume(client, world):
    e = world.enrollment_a1
    as_user(client, world.coach_a)
    client.post(card_url(e, "pause"))
    e.refresh_from_db()
    assert e.status == EnrollmentStatus.PAUSED
    html = client.get(card_url(e)).content.decode()
    assert card_url(e, "resume") in html and card_url(e, "pause") not in html
    client.post(card_url(e, "resume"))
    e.refresh_from_db()
    assert e.status == EnrollmentStatus.ACTIVE
    assert e.events.filter(kind=EventKind.STATUS_CHANGED).count() == 2


def test_add_a_note(client, world):
    e = world.enrollment_a2
    as_user(client, world.coach_a).post(card_url(e, "add_note"), {
        "body": "Talked about goals", "visibility": "team",
    })
    note = SessionNote.objects.get(body="Talked about goals")
    assert note.author == world.coach_a and note.enrollment == e and note.visibility == "team"
    assert e.events.filter(kind=EventKind.NOTE_ADDED).exists()


def test_an_action_from_the_dialog_comes_back_as_the_fragment(client, world):
    e = world.enrollment_a1
    response = as_user(client, world.coach_a).post(
        card_url(e, "pause"), HTTP_X_REQUESTED_WITH="XMLHttpRequest", follow=True
    )
    html = response.content.decode()
    assert "<html" not in html and "The engagement is paused." in html


# -- Actions: refused ------------------------------------------------------------------------

ACTIONS = ["add_extra_activity", "unlock_activity", "skip_activity", "reassign_coach",
           "pause", "resume", "add_note"]


def valid_data(world, e, action):
    return {
        "add_extra_activity": {"kind": "lesson", "title": "T", "text": "x", "stage": ""},
        "unlock_activity": {"activity": step(e, "Later").public_id},
        "skip_activity": {"activity": step(e, "Later").public_id},
        "reassign_coach": {"coach": world.coach_a2.pk},
        "pause": {},
        "resume": {},
        "add_note": {"body": "hello", "visibility": "coach"},
    }[action]


@pytest.mark.parametrize("action", ACTIONS)
def test_hr_partners_may_not_act(client, world, action):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.hr_acme).post(
        card_url(e, action), valid_data(world, e, action)
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "Ada Acme" not in html and world.client_a1.email not in html
    assert snapshot(e) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_another_teams_enrollment_does_not_exist(client, world, action):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.coach_b).post(
        card_url(e, action), valid_data(world, e, action)
    )
    assert response.status_code == 404
    html = response.content.decode()
    assert "Ada Acme" not in html and world.client_a1.email not in html
    assert snapshot(e) == before


def test_coaches_may_not_reassign(client, world):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.coach_a).post(
        card_url(e, "reassign_coach"), {"coach": world.coach_a2.pk}
    )
    assert response.status_code == 403
    assert snapshot(e) == before


@pytest.mark.parametrize("action", ["unlock_activity", "skip_activity"])
@pytest.mark.parametrize("other", ["enrollment_a2", "enrollment_b1"])
def test_an_activity_of_another_enrollment_is_refused(client, world, action, other):
    e, foreign = world.enrollment_a1, getattr(world, other)
    target = step(foreign, "Later")
    before, foreign_before = snapshot(e), snapshot(foreign)
    response = as_user(client, world.admin).post(
        card_url(e, action), {"activity": target.public_id}
    )
    assert response.status_code == 302
    assert any("not part of this client's journey" in m for m in message_texts(response))
    assert snapshot(e) == before and snapshot(foreign) == foreign_before


@pytest.mark.parametrize("value", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_bad_activity_id_is_refused(client, world, value):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.coach_a).post(card_url(e, "unlock_activity"),
                                                   {"activity": value})
    assert response.status_code == 302 and message_texts(response)
    assert snapshot(e) == before


@pytest.mark.parametrize("who", ["coach_b", "coach_a", "client_b1", "sales"])
def test_reassigning_to_an_ineligible_coach_is_refused(client, world, who):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.admin).post(
        card_url(e, "reassign_coach"), {"coach": getattr(world, who).pk}
    )
    assert response.status_code == 302
    assert any("cannot take this client" in m for m in message_texts(response))
    assert snapshot(e) == before


@pytest.mark.parametrize("data, error", [
    ({"kind": "one_to_one", "title": "T", "text": "x"}, "Select a valid choice"),
    ({"kind": "lesson", "title": "", "text": "x"}, "required"),
    ({"kind": "check_in", "title": "T", "text": "x" * 101}, "under 100"),
    ({"kind": "lesson", "title": "T", "text": "x", "stage": "not-a-stage"}, "valid choice"),
])
def test_a_bad_extra_activity_says_why_and_adds_nothing(client, world, data, error):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.coach_a).post(card_url(e, "add_extra_activity"), data)
    assert response.status_code == 302
    assert any(error in m for m in message_texts(response))
    assert snapshot(e) == before


def test_an_empty_note_is_refused(client, world):
    e = world.enrollment_a1
    before = snapshot(e)
    response = as_user(client, world.coach_a).post(card_url(e, "add_note"),
                                                   {"body": "  ", "visibility": "nobody"})
    assert message_texts(response)
    assert snapshot(e) == before


def test_pausing_a_paused_enrollment_says_so(client, world):
    e = world.enrollment_a1
    as_user(client, world.coach_a).post(card_url(e, "pause"))
    before = snapshot(e)
    response = client.post(card_url(e, "pause"))
    assert any("paused" in m.lower() for m in message_texts(response))
    assert snapshot(e) == before


def test_extra_fields_change_nothing_beyond_the_action(client, world):
    e, other = world.enrollment_a1, world.enrollment_b1
    extra = {
        "status": "completed", "client": world.client_b1.pk, "coach": world.coach_a2.pk,
        "role": "lead_coach", "engagement": world.engagement_b.pk, "company": world.globex.pk,
        "enrollment": other.pk, "author": world.admin.pk, "state": "completed",
        "source": "program",
    }
    other_before = snapshot(other)
    assignments = list(CoachAssignment.objects.values_list("pk", "coach_id", "ended_at"))
    as_user(client, world.coach_a)
    client.post(card_url(e, "pause"), extra)
    e.refresh_from_db()
    assert (e.status, e.client_id, e.engagement_id, e.company_id) == (
        EnrollmentStatus.PAUSED, world.client_a1.pk, world.engagement_a.pk, world.acme.pk
    )
    client.post(card_url(e, "resume"), extra)
    client.post(card_url(e, "add_note"), {**extra, "body": "mine", "visibility": "coach"})
    note = SessionNote.objects.get(body="mine")
    assert note.author == world.coach_a and note.enrollment_id == e.pk
    client.post(card_url(e, "add_extra_activity"),
                {**extra, "kind": "lesson", "title": "Extra one", "text": "x", "stage": ""})
    row = ClientActivity.objects.get(title="Extra one")
    assert row.enrollment_id == e.pk
    assert row.source == ActivitySource.EXTRA and row.state == ActivityState.AVAILABLE
    assert list(CoachAssignment.objects.values_list("pk", "coach_id", "ended_at")) == assignments
    assert snapshot(other) == other_before


def test_actions_need_post_and_a_csrf_token(world):
    e = world.enrollment_a1
    before = snapshot(e)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.coach_a)
    assert strict.post(card_url(e, "pause")).status_code == 403
    assert strict.get(card_url(e, "pause")).status_code == 405
    assert snapshot(e) == before
