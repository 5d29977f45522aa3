"""What the team does around a client's journey: pause and resume, notes, consent, and
ending it when the client's data is erased."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    OPEN_STATUSES,
    Company,
    Consent,
    ConsentPurpose,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    JourneyEvent,
    NoteVisibility,
    SessionNote,
)
from .errors import EnrollmentNotOpen, JourneyError


def _set_status(enrollment, status, expected, actor, now):
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().select_related("engagement").get(
            pk=enrollment.pk
        )
        if enrollment.status != expected:
            raise EnrollmentNotOpen(
                _("The enrollment is %(status)s.") % {"status": enrollment.get_status_display()}
            )
        previous = enrollment.status
        enrollment.status = status
        enrollment.save(update_fields=["status"])
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.STATUS_CHANGED, actor=actor, at=now,
            data={"from": previous, "to": status},
        )
        return enrollment


def pause_enrollment(enrollment, *, actor=None, now=None):
    """Pause an active enrollment: nothing unlocks and the client cannot complete steps."""
    return _set_status(
        enrollment, EnrollmentStatus.PAUSED, EnrollmentStatus.ACTIVE, actor, now or timezone.now()
    )


def resume_enrollment(enrollment, *, actor=None, now=None):
    """Resume a paused enrollment and open whatever came due while it was paused."""
    from .progress import advance

    now = now or timezone.now()
    with transaction.atomic():
        enrollment = _set_status(
            enrollment, EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED, actor, now
        )
        advance(enrollment, actor=actor, now=now)
    return enrollment


def end_for_erasure(client):
    """End the journeys of a client whose data is being erased (``portability.erase_client``).

    Their open enrollments (active or paused) take the status "Ended (data erased)": no
    longer active, never at risk, and nothing acts on them any more (unlocks, rules, access
    changes), while what happened before them still counts in reports. Completed and
    cancelled enrollments stay as they are; every enrollment of the client loses its at-risk
    flag. Returns ``{enrollment id: the status it had}`` for those it ended; running it again
    ends nothing.
    """
    with transaction.atomic():
        ended = dict(
            Enrollment.objects.select_for_update()
            .filter(client=client, status__in=OPEN_STATUSES)
            .values_list("pk", "status")
        )
        Enrollment.objects.filter(pk__in=list(ended)).update(status=EnrollmentStatus.ERASED)
        Enrollment.objects.filter(client=client, at_risk_since__isnull=False).update(
            at_risk_since=None, at_risk_reason=""
        )
    return ended


def add_note(
    enrollment, *, author, body, visibility=NoteVisibility.COACH, now=None,
    coaching_session=None, group_session=None,
):
    """Write a session note on a client's enrollment, about one session if given. Returns
    the note."""
    body = (body or "").strip()
    if not body:
        raise JourneyError(_("A note cannot be empty."))
    if visibility not in NoteVisibility.values:
        raise JourneyError(_("Choose who can see the note."))
    now = now or timezone.now()
    with transaction.atomic():
        note = SessionNote.objects.create(
            enrollment=enrollment, author=author, body=body, visibility=visibility,
            coaching_session=coaching_session, group_session=group_session,
        )
        # The timeline says that a note exists and who may read it, never what it says.
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.NOTE_ADDED, actor=author, at=now,
            data={"visibility": visibility, "note": note.pk},
        )
    return note


def set_consent(client, purpose, granted, *, now=None):
    """Record the client's current consent for ``purpose`` and note it in their timelines
    (a choice that changes nothing is not noted again)."""
    now = now or timezone.now()
    with transaction.atomic():
        if Consent.objects.filter(client=client, purpose=purpose, granted=granted).exists():
            return
        Consent.objects.update_or_create(
            client=client, purpose=purpose, defaults={"granted": granted, "at": now}
        )
        JourneyEvent.objects.bulk_create(
            JourneyEvent(
                enrollment=e, kind=EventKind.CONSENT_CHANGED, actor=client, at=now,
                data={"purpose": purpose, "granted": granted},
            )
            for e in Enrollment.objects.filter(client=client)
        )


def employer_sponsors(client):
    """The names of the companies that sponsor ``client``'s coaching (the companies of their
    enrollments), whose HR partners see attendance and progress if the client shares them.
    Empty: nobody to share with, so the client is never asked. One query."""
    return sorted(set(
        Company.objects.filter(enrollments__client=client).values_list("name", flat=True)
    ))


def sharing_choice(client):
    """The client's consent to share attendance and progress with their employer, or None
    while they have not chosen."""
    return Consent.objects.filter(client=client, purpose=ConsentPurpose.SHARE_PROGRESS).first()


def sponsors_to_ask_on_form(client):
    """The sponsors a form asks about sharing (an optional box of its own, apart from the
    form's own consent): the client's sponsors while they have not chosen yet, else none
    (the privacy page is where a choice changes). Two queries at most."""
    sponsors = employer_sponsors(client)
    if not sponsors or sharing_choice(client) is not None:
        return []
    return sponsors
