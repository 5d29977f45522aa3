"""What the team does around a client's journey: pause and resume, notes, consent."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Consent,
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


def add_note(enrollment, *, author, body, visibility=NoteVisibility.COACH, now=None):
    """Write a session note on a client's enrollment. Returns the note."""
    body = (body or "").strip()
    if not body:
        raise JourneyError(_("A note cannot be empty."))
    if visibility not in NoteVisibility.values:
        raise JourneyError(_("Choose who can see the note."))
    now = now or timezone.now()
    with transaction.atomic():
        note = SessionNote.objects.create(
            enrollment=enrollment, author=author, body=body, visibility=visibility
        )
        # The timeline says that a note exists and who may read it, never what it says.
        JourneyEvent.objects.create(
            enrollment=enrollment, kind=EventKind.NOTE_ADDED, actor=author, at=now,
            data={"visibility": visibility, "note": note.pk},
        )
    return note


def set_consent(client, purpose, granted, *, now=None):
    """Record the client's current consent for ``purpose`` and note it in their timelines."""
    now = now or timezone.now()
    with transaction.atomic():
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
