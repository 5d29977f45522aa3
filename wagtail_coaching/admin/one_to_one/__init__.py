"""The staff side of 1:1 sessions: coaches' availability, the 1:1 sessions list and page
(record, reschedule, cancel), and the URLs of payouts and "My calendar".

Every list comes from ``visible()`` and every object is looked up there first (404), then
the action is checked with the matrix (403 page). The work is done by
``wagtail_coaching.scheduling``; a refusal it raises becomes an error message.

- Availability (``view_availabilityslot`` / ``change_availabilityslot``): a coach publishes
  and removes their own slots, an admin anyone's.
- 1:1 sessions (``view_coachingsession``; recording needs ``change_coachingsession``, moving
  or cancelling ``reschedule_coachingsession``). Staff cancelling is never late, unless
  they count the session as used.
- Booking for a client (``book_for_client`` on the enrollment): a free time of the coach,
  or a time outside availability with the override ticked; moving outside availability
  needs it too. "Book for a client" on the 1:1 sessions list lists the clients the viewer
  may book for who have sessions left.

Modules: ``availability`` (the availability list, publishing slots), ``sessions`` (the 1:1
sessions list and a session's page), ``actions`` (removing a slot, recording, moving and
cancelling a session, with the URLs of this area), ``booking`` (staff booking for a client
and moving a session to any free time or outside availability), ``clients`` (the clients
one may book for, from the 1:1 sessions list), ``forms``, ``filters``,
``text`` (how a session's length and time read) and ``menu`` (the Coaching menu's payouts
and "My calendar").
"""

from .actions import urlpatterns as action_urlpatterns
from .availability import AvailabilityAdmin
from .booking import urlpatterns as booking_urlpatterns
from .clients import urlpatterns as clients_urlpatterns
from .menu import menu_items
from .sessions import OneToOneAdmin

urlpatterns = [*action_urlpatterns, *booking_urlpatterns, *clients_urlpatterns]

__all__ = ["AvailabilityAdmin", "OneToOneAdmin", "menu_items", "urlpatterns"]
