"""Invitations to a group session: who is in its audience, asking for them, the background
job that emails them, and the signed accept/decline links in those emails."""

from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from ..models import (
    CALENDAR_STATUSES,
    OPEN_STATUSES,
    Audience,
    Cohort,
    Enrollment,
    GroupSession,
    Registration,
    RegistrationStatus,
)
from ..notifications.outbox import queue_notifications
from . import messages as msg
from .errors import InvalidToken, SessionNotOpen
from .seats import holds_seat
from .series import calendar_series, send_series_invitations
from .sessions import send_invitations_later, session_coaches

RSVP_SALT = "wagtail_coaching.rsvp"
ACCEPT, DECLINE = "accept", "decline"


def invite_audience(session, *, now=None):
    """"Send invitations": the audience members not invited yet get theirs, in the
    background (running it again sends nothing twice). Only an open session invites."""
    if session.is_cancelled:
        raise SessionNotOpen(_("This session was cancelled."))
    if session.starts_at <= (now or timezone.now()):
        raise SessionNotOpen(_("This session has already started."))
    send_invitations_later(session)


def audience_members(session):
    """The people a session's invitations go to (an open session has no list: it is shared
    by its invite link). Its coaches are left out."""
    User = get_user_model()
    open_enrollments = Enrollment.objects.filter(status__in=OPEN_STATUSES)
    if session.audience == Audience.COMPANY:
        condition = Q(pk__in=open_enrollments.filter(company_id=session.company_id)
                      .values("client_id")) | Q(
            pk__in=Cohort.members.through.objects.filter(
                cohort__company_id=session.company_id
            ).values("user_id")
        )
    elif session.audience == Audience.COHORT:
        condition = Q(pk__in=Cohort.members.through.objects.filter(
            cohort_id=session.cohort_id).values("user_id"))
    elif session.audience == Audience.ENGAGEMENT:
        condition = Q(pk__in=open_enrollments.filter(engagement_id=session.engagement_id)
                      .values("client_id"))
    elif session.audience == Audience.LIST:
        condition = Q(pk__in=GroupSession.invitees.through.objects.filter(
            groupsession_id=session.pk).values("user_id"))
    else:
        return User.objects.none()
    coaches = GroupSession.co_coaches.through.objects.filter(groupsession_id=session.pk)
    return (
        User.objects.filter(condition, is_active=True)
        .exclude(pk=session.coach_id)
        .exclude(pk__in=coaches.values("user_id"))
    )


def send_invitations(session_id, *, batch_size=None, now=None):
    """Invite every audience member who has not been invited yet, and (once) the coaches.

    Safe to run any number of times: registrations are inserted with conflicts ignored and
    each email's dedup key is the session, the person, the SEQUENCE and the method, so a
    second run sends nothing. A fixed number of queries per batch of people. Returns how
    many messages were handed to the sender.
    """
    now = now or timezone.now()
    batch_size = batch_size or coaching_settings.BATCH_SIZE
    session = GroupSession.objects.select_related("coach").filter(pk=session_id).first()
    if session is None or session.is_cancelled or session.starts_at <= now:
        return 0
    series = calendar_series(session)
    if series is not None:
        # One email per person for the whole series.
        return send_series_invitations(series.pk, [session.pk], batch_size=batch_size, now=now)
    event = msg.group_event(session)
    key = f"group:{session.pk}"
    queued = queue_notifications(
        msg.calendar_message(coach, "coach_session_assigned", f"{key}:coach", event,
                             method="REQUEST", sequence=session.sequence)
        for coach in session_coaches(session)
    )
    member_ids = list(audience_members(session).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(member_ids), batch_size):
        chunk = member_ids[start:start + batch_size]
        Registration.objects.bulk_create(
            [Registration(session=session, user_id=user_id, invited_at=now) for user_id in chunk],
            ignore_conflicts=True,
        )
        registrations = Registration.objects.filter(
            session=session, user_id__in=chunk, status__in=CALENDAR_STATUSES
        ).select_related("user")
        queued += queue_notifications(
            invitation(session, registration) for registration in registrations
        )
    return queued


def invitation(session, registration):
    """The invitation email (with accept and decline links) or, for someone already
    registered, the confirmation, each with the calendar file. The video link is only in
    the confirmation: an invitation gives no seat."""
    event = msg.group_event(session, with_link=holds_seat(registration))
    invited = registration.status == RegistrationStatus.INVITED
    payload = {}
    if invited:
        payload = {
            "accept_path": reverse(
                "wagtail_coaching:rsvp", args=[rsvp_token(registration, ACCEPT)]
            ),
            "decline_path": reverse(
                "wagtail_coaching:rsvp", args=[rsvp_token(registration, DECLINE)]
            ),
        }
    return msg.calendar_message(
        registration.user, "session_invitation" if invited else "session_confirmed",
        f"group:{session.pk}", event, method="REQUEST",
        sequence=session.sequence + registration.revision, payload=payload,
    )


def rsvp_token(registration, answer):
    """A signed link token for one person's answer to one session's invitation."""
    return signing.dumps(
        {"r": str(registration.public_id), "a": answer}, salt=RSVP_SALT, compress=True
    )


def read_rsvp_token(token):
    """(registration, answer) for a token; InvalidToken when it was altered, is for nothing
    we know, or is older than ``RSVP_MAX_AGE``."""
    try:
        data = signing.loads(token, salt=RSVP_SALT, max_age=coaching_settings.RSVP_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InvalidToken(_("This link has expired. Open the session from your dashboard.")) \
            from exc
    except signing.BadSignature as exc:
        raise InvalidToken(_("This link is not valid.")) from exc
    answer = data.get("a") if isinstance(data, dict) else None
    registration = (
        Registration.objects.select_related("session", "user")
        .filter(public_id=data.get("r") if isinstance(data, dict) else None)
        .first()
        if answer in (ACCEPT, DECLINE) else None
    )
    if registration is None:
        raise InvalidToken(_("This link is not valid."))
    return registration, answer
