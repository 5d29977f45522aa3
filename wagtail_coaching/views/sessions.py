"""The client's side of sessions on the public site: their sessions page, a group session's
page with Register and Leave, the shareable invite link, the reply links of invitation
emails, and the personal calendar feed.

The views stay thin: ``scheduling`` decides (seats, waitlist, eligibility), ``permissions``
says who may see or register, and what is left here is turning answers and refusals into
pages and messages, in the viewer's time zone. Nothing changes on a GET: mail scanners and
link previews follow the links in emails.
"""

from django.contrib import messages
from django.db.models import BooleanField, Case, When
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from ..continuity.history import GROUP, client_session_history
from ..models import (
    ActivityState,
    Audience,
    CalendarFeed,
    CoachingSessionStatus,
    EnrollmentStatus,
    GroupSession,
    Registration,
    RegistrationStatus,
    SessionStatus,
)
from ..permissions import allowed, is_staff_role, visible
from ..scheduling import (
    SchedulingError,
    allotments,
    cancel_registration,
    cancels_late,
    feed_calendar,
    feed_of,
    holds_seat,
    late_cancel_hours,
    read_rsvp_token,
    register,
    reset_feed,
    seats_left,
    seats_taken_annotation,
)
from ..scheduling.errors import InvalidToken
from ..scheduling.invites import ACCEPT
from ..scheduling.waitlist import waitlist_position, waitlist_position_annotation
from ..utils.time_zones import user_time_zone
from .client import ClientViewMixin

S = RegistrationStatus
# Registrations the sessions page lists as the client's own.
ACTIVE_STATUSES = (S.INVITED, S.REGISTERED, S.WAITLISTED)
# At most this many sessions in "Sessions you can join" (a coaching admin sees them all).
OPEN_SESSIONS_LIMIT = 50
# The earlier 1:1 sessions the page lists.
PAST_ONE_TO_ONE_LIMIT = 20

# Who a session is for, in the words of the refusal (never a name).
AUDIENCE_WORDS = {
    Audience.COMPANY: gettext_lazy("the clients of one company"),
    Audience.COHORT: gettext_lazy("the members of one cohort"),
    Audience.ENGAGEMENT: gettext_lazy("the clients of one engagement"),
    Audience.LIST: gettext_lazy("invited clients"),
    Audience.OPEN: gettext_lazy("clients"),
}


# -- Shared helpers --------------------------------------------------------------------------

def is_open(session, now=None):
    return session.status == SessionStatus.SCHEDULED and session.starts_at > (
        now or timezone.now()
    )


def refusal_message(user, session):
    """Why ``user`` cannot register for ``session``, naming nobody."""
    if is_staff_role(user):
        return _("Registering is for clients: this account cannot take a seat.")
    if not is_open(session):
        return _("This session is no longer open for registration.")
    return _("This session is for %(audience)s only; ask your coach for an invitation.") % {
        "audience": AUDIENCE_WORDS.get(session.audience, AUDIENCE_WORDS[Audience.LIST])
    }


def forbidden(request, message, status=403):
    return TemplateResponse(
        request, "wagtail_coaching/sessions/forbidden.html", {"message": message},
        status=status,
    )


def safe_next(request, default):
    """The ``next`` field of a form when it points to this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def sessions_url():
    return reverse("wagtail_coaching:sessions")


def session_url(session):
    return reverse("wagtail_coaching:group_session", args=[session.public_id])


def registered_message(session, registration):
    if registration.status == S.WAITLISTED:
        return _(
            "The session is full: you are number %(position)d on the waitlist for "
            "“%(title)s”. We will email you if a seat frees up."
        ) % {"position": waitlist_position(registration) or 1, "title": session.title}
    return _("You're registered for “%(title)s”. The invitation is on its way to your "
             "calendar.") % {"title": session.title}


def left_message(session, registration):
    if registration.status == S.DECLINED:
        return _("You declined “%(title)s”.") % {"title": session.title}
    return _("You are no longer registered for “%(title)s”.") % {"title": session.title}


# -- The sessions page -----------------------------------------------------------------------

def sessions_page(user, now=None):
    """Everything /coaching/sessions/ shows, in a fixed number of queries."""
    now = now or timezone.now()
    mine = list(
        Registration.objects.filter(
            user=user, status__in=ACTIVE_STATUSES,
            session__status=SessionStatus.SCHEDULED, session__ends_at__gt=now,
        )
        .select_related("session__coach")
        .annotate(
            position=waitlist_position_annotation(),
            taken=seats_taken_annotation("session"),
        )
        .order_by("session__starts_at", "pk")
    )
    for r in mine:
        r.session.taken = r.taken
        r.seats_left = seats_left(r.session, r.taken)
        r.show_video = holds_seat(r) and bool(r.session.video_link)
    open_sessions = list(
        visible(user, "view_groupsession")
        .filter(status=SessionStatus.SCHEDULED, starts_at__gt=now)
        .exclude(pk__in=Registration.objects.filter(
            user=user, status__in=ACTIVE_STATUSES
        ).values("session_id"))
        .select_related("coach")
        .annotate(
            taken=seats_taken_annotation(),
            can_register=Case(
                When(pk__in=visible(user, "register_groupsession").values("pk"), then=True),
                default=False,
                output_field=BooleanField(),
            ),
        )
        .order_by("starts_at", "pk")[:OPEN_SESSIONS_LIMIT]
    )
    for s in open_sessions:
        s.seats_left = seats_left(s, s.taken)

    ones = list(
        visible(user, "view_coachingsession")
        .filter(enrollment__client=user)
        .select_related("coach", "enrollment__engagement")
        .order_by("starts_at", "pk")
    )
    upcoming, past = [], []
    for s in ones:
        if s.status == CoachingSessionStatus.BOOKED and s.starts_at > now:
            s.is_late = cancels_late(s, user, now)
            upcoming.append(s)
        else:
            past.append(s)
    past.reverse()
    # Held sessions with their summaries, shared notes and practices (four queries).
    history = client_session_history(user)
    held = {h.key: h for h in history}
    for s in past:
        s.held = held.get(("one_to_one", s.pk))

    activities = list(
        visible(user, "book_session")
        .filter(kind="one_to_one", enrollment__client=user)
        .select_related("enrollment__engagement")
        .order_by("enrollment_id", "stage_position", "position", "pk")
    )
    by_activity = allotments(activities, ones)
    bookings = []
    for activity in activities:
        allot = by_activity[activity.pk]
        bookings.append({
            "activity": activity,
            "allotment": allot,
            "can_book": (
                allot.left > 0
                and activity.state == ActivityState.AVAILABLE
                and activity.enrollment.status == EnrollmentStatus.ACTIVE
            ),
        })
    return {
        "registrations": mine,
        "open_sessions": open_sessions,
        "upcoming_one_to_ones": upcoming,
        "past_one_to_ones": past[:PAST_ONE_TO_ONE_LIMIT],
        "attended_group_sessions": [h for h in history if h.kind == GROUP][
            :PAST_ONE_TO_ONE_LIMIT
        ],
        "allotments": bookings,
        "late_cancel_hours": late_cancel_hours(),
        "now": now,
    }


class SessionsView(ClientViewMixin, View):
    template_name = "wagtail_coaching/sessions/list.html"

    def get(self, request):
        context = sessions_page(request.user)
        feed = feed_of(request.user)
        feed_url = request.build_absolute_uri(
            reverse("wagtail_coaching:calendar_feed", args=[feed.token])
        )
        context["feed_url"] = feed_url
        context["webcal_url"] = "webcal://" + feed_url.split("://", 1)[-1]
        return TemplateResponse(request, self.template_name, context)


# -- One group session -----------------------------------------------------------------------

class GroupSessionMixin(ClientViewMixin):
    def get_session(self, request, public_id):
        session = (
            visible(request.user, "view_groupsession")
            .select_related("coach")
            .filter(public_id=public_id)
            .first()
        )
        if session is None:
            raise Http404(_("No such session."))
        return session


def session_context(user, session, now=None):
    """The detail of one session as ``user`` sees it: their place, seats, the video link
    (only with a seat)."""
    session.taken = (
        GroupSession.objects.filter(pk=session.pk)
        .annotate(taken=seats_taken_annotation())
        .values_list("taken", flat=True)
        .first()
    ) or 0
    registration = (
        Registration.objects.filter(session=session, user=user)
        .annotate(position=waitlist_position_annotation())
        .first()
    )
    active = registration is not None and registration.status in ACTIVE_STATUSES
    return {
        "session": session,
        "co_coaches": list(session.co_coaches.exclude(pk=session.coach_id)),
        "registration": registration,
        "is_registered": active,
        "seats_left": seats_left(session, session.taken),
        "is_open": is_open(session, now),
        "show_video": bool(
            session.video_link and registration is not None
            and holds_seat(registration)
        ),
    }


class GroupSessionView(GroupSessionMixin, View):
    template_name = "wagtail_coaching/sessions/detail.html"

    def get(self, request, public_id):
        session = self.get_session(request, public_id)
        context = session_context(request.user, session)
        context["can_register"] = allowed(request.user, "register_groupsession", session)
        return TemplateResponse(request, self.template_name, context)


class RegisterView(GroupSessionMixin, View):
    """Take a seat, or a place on the waitlist when the session is full."""

    def post(self, request, public_id):
        session = self.get_session(request, public_id)
        if not allowed(request.user, "register_groupsession", session):
            return forbidden(request, refusal_message(request.user, session))
        try:
            registration = register(session, request.user)
        except SchedulingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, registered_message(session, registration))
        return redirect(safe_next(request, session_url(session)))


class LeaveView(GroupSessionMixin, View):
    """Give up one's seat (or waitlist place, or invitation)."""

    def post(self, request, public_id):
        session = self.get_session(request, public_id)
        if not allowed(request.user, "register_groupsession", session):
            return forbidden(request, refusal_message(request.user, session))
        declined = (
            Registration.objects.filter(session=session, user=request.user, status=S.INVITED)
            .exists()
        )
        try:
            registration = cancel_registration(session, request.user, declined=declined)
        except SchedulingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, left_message(session, registration))
        return redirect(safe_next(request, sessions_url()))


class JoinView(ClientViewMixin, View):
    """The shareable invite link: whoever the session is for may register from it; anyone
    else learns who it is for (in general words) and whom to ask."""

    template_name = "wagtail_coaching/sessions/detail.html"

    def get_session(self, token):
        session = GroupSession.objects.select_related("coach").filter(invite_token=token).first()
        if session is None:
            raise Http404(_("No such session."))
        return session

    def get(self, request, token):
        session = self.get_session(token)
        if not allowed(request.user, "register_groupsession", session):
            return forbidden(request, refusal_message(request.user, session))
        context = session_context(request.user, session)
        context["can_register"] = True
        context["register_url"] = reverse("wagtail_coaching:join", args=[token])
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, token):
        session = self.get_session(token)
        if not allowed(request.user, "register_groupsession", session):
            return forbidden(request, refusal_message(request.user, session))
        try:
            registration = register(session, request.user)
        except SchedulingError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("wagtail_coaching:join", args=[token]))
        messages.success(request, registered_message(session, registration))
        return redirect(session_url(session))


# -- Replies to an invitation email ----------------------------------------------------------

class RsvpView(View):
    """Accept or decline from the links of an invitation email, signed in or not: the
    signed token names the registration. A GET only asks for confirmation."""

    template_name = "wagtail_coaching/sessions/rsvp.html"

    def read(self, request, token):
        try:
            return read_rsvp_token(token)
        except InvalidToken as exc:
            return exc

    def render(self, request, context, status=200):
        response = TemplateResponse(request, self.template_name, context, status=status)
        registration = context.get("registration")
        zone = user_time_zone(registration.user if registration else request.user)
        with timezone.override(zone):
            response.render()
        return response

    def context(self, registration, answer):
        session = registration.session
        registration.position = waitlist_position(registration)
        return {
            "registration": registration,
            "session": session,
            "answer": answer,
            "accept": answer == ACCEPT,
            "is_open": is_open(session),
            "done": (
                registration.status in (S.REGISTERED, S.WAITLISTED) if answer == ACCEPT
                else registration.status in (S.DECLINED, S.CANCELLED)
            ),
            "own_account": self.request.user.is_authenticated
            and self.request.user.pk == registration.user_id,
        }

    def invalid(self, request, error):
        return self.render(request, {"error": str(error)}, status=400)

    def get(self, request, token):
        result = self.read(request, token)
        if isinstance(result, InvalidToken):
            return self.invalid(request, result)
        registration, answer = result
        return self.render(request, self.context(registration, answer))

    def post(self, request, token):
        result = self.read(request, token)
        if isinstance(result, InvalidToken):
            return self.invalid(request, result)
        registration, answer = result
        session, user = registration.session, registration.user
        try:
            if answer == ACCEPT:
                registration = register(session, user, check_eligible=False)
                messages.success(request, registered_message(session, registration))
            else:
                registration = cancel_registration(session, user, declined=True)
                messages.success(request, left_message(session, registration))
        except SchedulingError as exc:
            messages.error(request, str(exc))
            registration.refresh_from_db()
            return self.render(request, self.context(registration, answer), status=409)
        return redirect(reverse("wagtail_coaching:rsvp", args=[token]))


# -- Calendar feeds --------------------------------------------------------------------------

class CalendarFeedView(View):
    """A person's sessions as an iCalendar feed; the secret URL is the key."""

    def get(self, request, token):
        feed = (
            CalendarFeed.objects.select_related("user")
            .filter(token=token, user__is_active=True)
            .first()
        )
        if feed is None:
            raise Http404(_("No such calendar."))
        response = HttpResponse(
            feed_calendar(feed.user), content_type="text/calendar; charset=utf-8"
        )
        response["Cache-Control"] = "private"
        response["Content-Disposition"] = 'inline; filename="coaching.ics"'
        response["X-Robots-Tag"] = "noindex"
        return response


class ResetCalendarView(ClientViewMixin, View):
    """Replace the secret of one's calendar feed: the old URL stops working."""

    def post(self, request):
        reset_feed(request.user)
        messages.success(request, _(
            "Your calendar link has been reset. The old link no longer works: subscribe "
            "again with the new one."
        ))
        return redirect(safe_next(request, sessions_url()))
