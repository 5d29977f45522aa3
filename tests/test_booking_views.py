"""The client's side of 1:1 sessions: booking from the allotment, rescheduling, cancelling."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from wagtail.users.models import UserProfile

from wagtail_coaching.journeys import pause_enrollment
from wagtail_coaching.models import (
    AssignmentMethod,
    AvailabilitySlot,
    CoachAssignment,
    CoachingSession,
    CoachingSessionStatus,
    EngagementPage,
)
from wagtail_coaching.scheduling import allotment, book_session, publish_availability

from .world import build_world
from .world_sessions import add_sessions, in_days

SESSIONS = reverse("wagtail_coaching:sessions")


def build_shared_world():
    return add_sessions(build_world())


@pytest.fixture
def w(shared):
    return shared


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def book_url(activity):
    return reverse("wagtail_coaching:book", args=[activity.public_id])


def reschedule_url(session):
    return reverse("wagtail_coaching:reschedule", args=[session.public_id])


def cancel_url(session):
    return reverse("wagtail_coaching:cancel_booking", args=[session.public_id])


def allotment_of(w, enrollment):
    return w.one_to_one[enrollment.pk]


def free_times(coach):
    booked = CoachingSession.objects.filter(status="booked").values("slot_id")
    return list(
        AvailabilitySlot.objects.filter(coach=coach).exclude(pk__in=booked)
        .order_by("starts_at").values_list("starts_at", flat=True)
    )


def other_coach_time(w):
    """A time only coach_a2 (team A, not a1's coach) offers."""
    start = in_days(3, 14)
    publish_availability(w.coach_a2, start=start, end=start + timedelta(hours=1),
                         slot_minutes=60)
    return start


# -- Booking ---------------------------------------------------------------------------------

def test_the_booking_page_lists_the_coachs_free_times_and_the_allotment(client, w):
    other = other_coach_time(w)
    client.force_login(w.client_a1)
    response = client.get(book_url(allotment_of(w, w.enrollment_a1)))
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 of 3 sessions used, 2 left." in html
    assert "Each session lasts 60 minutes." in html
    (free,) = free_times(w.coach_a)  # the 10:00 slot is booked, 11:00 is left
    assert f'value="{free.isoformat()}"' in html
    assert f'value="{w.booking_a1.starts_at.isoformat()}"' not in html
    # Another coach's times are not offered to a client who has a coach.
    assert f'value="{other.isoformat()}"' not in html
    assert "<legend" in html and '<button type="submit"' in html


def test_times_are_grouped_in_the_clients_time_zone(client, w):
    profile, _ = UserProfile.objects.get_or_create(user=w.client_a1)
    profile.current_time_zone = "Pacific/Auckland"
    profile.save()
    client.force_login(w.client_a1)
    html = client.get(book_url(allotment_of(w, w.enrollment_a1))).content.decode()
    (free,) = free_times(w.coach_a)
    local = free.astimezone(ZoneInfo("Pacific/Auckland"))
    assert f'datetime="{local.isoformat()}"' in html
    assert "Pacific/Auckland" in html


def test_booking_a_time(client, w):
    client.force_login(w.client_a1)
    activity = allotment_of(w, w.enrollment_a1)
    (free,) = free_times(w.coach_a)
    response = client.post(book_url(activity), {"starts_at": free.isoformat()})
    assert response.status_code == 302
    assert response["Location"] == SESSIONS
    assert any("is booked" in t for t in texts(response))
    session = CoachingSession.objects.get(activity=activity, starts_at=free)
    assert session.coach == w.coach_a and session.booked_by == w.client_a1
    assert allotment(activity).used == 2


@pytest.mark.parametrize("value", ["", "tomorrow", "2030-01-01T10:00:00", "2030-13-01T10:00Z"])
def test_a_bad_time_is_refused(client, w, value):
    client.force_login(w.client_a1)
    activity = allotment_of(w, w.enrollment_a1)
    data = {"starts_at": value} if value else {}
    response = client.post(book_url(activity), data)
    assert response.status_code == 400
    assert "Choose one of the times below." in texts(response)
    assert allotment(activity).used == 1


def test_a_taken_time_is_refused(client, w):
    client.force_login(w.client_a1)
    activity = allotment_of(w, w.enrollment_a1)
    response = client.post(book_url(activity), {"starts_at": w.booking_a1.starts_at.isoformat()})
    assert response.status_code == 409
    assert "This time was just taken. Please choose another." in texts(response)
    assert allotment(activity).used == 1


def test_a_used_up_allotment_cannot_book(client, w):
    activity = allotment_of(w, w.enrollment_a1)
    publish_availability(w.coach_a, start=in_days(5), end=in_days(5, 13), slot_minutes=60)
    for hour in (10, 11):
        book_session(activity, in_days(5, hour), actor=w.client_a1)
    client.force_login(w.client_a1)
    response = client.get(book_url(activity))
    html = response.content.decode()
    assert "3 of 3 sessions used, 0 left." in html
    assert "You have used all the sessions of this step." in html
    assert 'name="starts_at"' not in html
    response = client.post(book_url(activity), {"starts_at": in_days(5, 12).isoformat()})
    assert response.status_code == 409
    assert "All sessions of this package are used." in texts(response)


def test_a_paused_engagement_cannot_book(client, w):
    pause_enrollment(w.enrollment_a1)
    client.force_login(w.client_a1)
    activity = allotment_of(w, w.enrollment_a1)
    assert "not active at the moment" in client.get(book_url(activity)).content.decode()
    (free,) = free_times(w.coach_a)
    response = client.post(book_url(activity), {"starts_at": free.isoformat()})
    assert response.status_code == 409
    assert allotment(activity).used == 1


def test_without_a_chosen_coach_the_client_is_sent_to_choose(client, w):
    EngagementPage.objects.filter(pk=w.engagement_a.pk).update(
        assignment_policy=AssignmentMethod.CLIENT_CHOICE
    )
    client.force_login(w.client_a2)  # no coach yet
    html = client.get(book_url(allotment_of(w, w.enrollment_a2))).content.decode()
    assert "Choose your coach first" in html
    assert reverse("wagtail_coaching:choose_coach", args=[w.enrollment_a2.public_id]) in html
    assert 'name="starts_at"' not in html


def test_without_a_coach_the_first_booking_picks_one(client, w):
    client.force_login(w.client_a2)  # manual policy, no coach yet: team A's free times
    activity = allotment_of(w, w.enrollment_a2)
    start = free_times(w.coach_a2)[0]
    response = client.post(book_url(activity), {"starts_at": start.isoformat()})
    assert response.status_code == 302
    assert CoachAssignment.objects.filter(
        enrollment=w.enrollment_a2, ended_at__isnull=True, role="coach"
    ).exists()


def test_someone_elses_allotment_does_not_exist(client, w):
    activity = allotment_of(w, w.enrollment_a1)
    for user in (w.client_b1, w.client_a2, w.coach_a, w.admin):
        client.force_login(user)
        assert client.get(book_url(activity)).status_code == 404
        (free,) = free_times(w.coach_a)
        assert client.post(book_url(activity), {"starts_at": free.isoformat()}).status_code == 404
    assert allotment(activity).used == 1


def test_a_step_that_is_not_a_1to1_allotment_cannot_book(client, w):
    client.force_login(w.client_a1)
    welcome = w.enrollment_a1.activities.get(title="Welcome")
    assert client.get(book_url(welcome)).status_code == 404


# -- Rescheduling ----------------------------------------------------------------------------

def test_rescheduling_offers_the_same_coachs_other_times(client, w):
    other = other_coach_time(w)
    client.force_login(w.client_a1)
    response = client.get(reschedule_url(w.booking_a1))
    assert response.status_code == 200
    html = response.content.decode()
    (free,) = free_times(w.coach_a)
    assert f'value="{free.isoformat()}"' in html
    assert f'value="{other.isoformat()}"' not in html


def test_rescheduling_moves_the_session(client, w):
    client.force_login(w.client_a1)
    (free,) = free_times(w.coach_a)
    response = client.post(reschedule_url(w.booking_a1), {"starts_at": free.isoformat()})
    assert response.status_code == 302 and response["Location"] == SESSIONS
    assert any("moved" in t for t in texts(response))
    w.booking_a1.refresh_from_db()
    assert w.booking_a1.starts_at == free
    assert w.booking_a1.sequence == 1


def test_rescheduling_to_a_bad_or_taken_time_is_refused(client, w):
    client.force_login(w.client_a1)
    url = reschedule_url(w.booking_a1)
    assert client.post(url, {"starts_at": "soon"}).status_code == 400
    response = client.post(url, {"starts_at": other_coach_time(w).isoformat()})
    assert response.status_code == 409
    assert "This time was just taken. Please choose another." in texts(response)
    before = w.booking_a1.starts_at
    w.booking_a1.refresh_from_db()
    assert w.booking_a1.starts_at == before


def late_booking(w):
    """A session of a1 starting in 13 hours: bookable (12 hours' notice), but late to move."""
    start = (timezone.now() + timedelta(hours=13)).replace(second=0, microsecond=0)
    publish_availability(w.coach_a, start=start, end=start + timedelta(hours=1),
                         slot_minutes=60)
    return book_session(allotment_of(w, w.enrollment_a1), start, actor=w.client_a1)


def test_it_is_too_late_to_move_inside_the_window(client, w):
    session = late_booking(w)
    client.force_login(w.client_a1)
    html = client.get(reschedule_url(session)).content.decode()
    assert "too late to move this session" in html
    (free,) = free_times(w.coach_a)
    response = client.post(reschedule_url(session), {"starts_at": free.isoformat()})
    assert response.status_code == 409
    assert any("too late" in t for t in texts(response))
    # The sessions page offers no Reschedule, and warns that cancelling uses it up.
    html = client.get(SESSIONS).content.decode()
    assert reschedule_url(session) not in html
    assert "cancelling now uses up the session" in html


def test_the_coach_may_reschedule_and_others_may_not(client, w):
    client.force_login(w.coach_a)
    assert client.get(reschedule_url(w.booking_a1)).status_code == 200
    for user in (w.client_b1, w.client_a2, w.hr_acme, w.sales):
        client.force_login(user)
        assert client.get(reschedule_url(w.booking_a1)).status_code == 404
        assert client.post(cancel_url(w.booking_a1)).status_code == 404
    w.booking_a1.refresh_from_db()
    assert w.booking_a1.status == CoachingSessionStatus.BOOKED


# -- Cancelling ------------------------------------------------------------------------------

def test_cancelling_early_gives_the_session_back(client, w):
    client.force_login(w.client_a1)
    html = client.get(cancel_url(w.booking_a1)).content.decode()
    assert "goes back to your allotment" in html
    assert "<button" in html
    w.booking_a1.refresh_from_db()
    assert w.booking_a1.status == CoachingSessionStatus.BOOKED  # the GET only asks
    response = client.post(cancel_url(w.booking_a1))
    assert response.status_code == 302 and response["Location"] == SESSIONS
    assert any("goes back to your allotment" in t for t in texts(response))
    w.booking_a1.refresh_from_db()
    assert w.booking_a1.status == CoachingSessionStatus.CANCELLED
    assert allotment(allotment_of(w, w.enrollment_a1)).used == 0


def test_a_late_cancel_uses_the_session_up_and_says_so(client, w):
    session = late_booking(w)
    client.force_login(w.client_a1)
    html = client.get(cancel_url(session)).content.decode()
    assert "if you cancel now, it counts as used" in html
    response = client.post(cancel_url(session))
    assert response.status_code == 302
    assert any("less than 24 hours" in t and "counts as used" in t for t in texts(response))
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.LATE_CANCELLED
    assert allotment(allotment_of(w, w.enrollment_a1)).used == 2


def test_cancelling_twice_says_it_cannot(client, w):
    client.force_login(w.client_a1)
    client.post(cancel_url(w.booking_a1))
    response = client.post(cancel_url(w.booking_a1))
    assert "Only an upcoming booked session can be cancelled." in texts(response)


def test_the_coach_cancelling_late_does_not_use_the_session(client, w):
    session = late_booking(w)
    client.force_login(w.coach_a)
    response = client.post(cancel_url(session), {"next": "/admin/"})
    assert response["Location"] == "/admin/"
    session.refresh_from_db()
    assert session.status == CoachingSessionStatus.CANCELLED


def test_the_1to1_step_page_links_to_booking(client, w):
    activity = allotment_of(w, w.enrollment_a1)
    client.force_login(w.client_a1)
    html = client.get(reverse("wagtail_coaching:activity", args=[activity.public_id])).text
    assert f'href="{book_url(activity)}"' in html
    assert "Book each session at a time that suits you" in html
