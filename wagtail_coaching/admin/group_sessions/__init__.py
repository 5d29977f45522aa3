"""Group sessions in the coaching admin (Coaching → Group sessions).

- the list: week by week, upcoming sessions first (a filter shows past ones), filters by
  coach, company, cohort and status, seats taken and the waitlist; a fixed number of
  queries however many sessions it shows;
- "Add": the create-series form (once, weekly, fortnightly or a list of dates);
- "Edit": one session, or it and all later sessions of its series;
- the session page (inspect): the invite link with a copy button, seats, the registered
  list, the waitlist, and the actions ``session_invite``, ``session_cancel`` and
  ``session_attendance`` (POSTs in ``urlpatterns``, under ``/admin/coaching/sessions/``).

The views are thin: every change goes through ``wagtail_coaching.scheduling``. A session
is looked up inside ``visible(user, "view_groupsession")`` (404 otherwise) and every change
is checked with ``allowed(user, "change_groupsession", session)`` (403 otherwise). Times are
shown in the viewer's time zone (their Wagtail profile's, else the coaching default); a
form's times are read in the time zone chosen on the form.

Modules: ``options`` (the ModelAdmin, its permission and button helpers), ``views`` (list,
create, edit, session page), ``actions`` (the POSTs and their URLs), ``forms``, ``filters``,
``choices`` (what the forms offer) and ``text`` (how a session reads).
"""

from .actions import urlpatterns
from .options import GroupSessionsAdmin, session_history

__all__ = ["GroupSessionsAdmin", "session_history", "urlpatterns"]
