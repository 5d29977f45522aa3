"""Coaches' own calendars, connected over CalDAV (docs/calendars.md).

- ``connections``: connect an account (tested first), choose the calendars that make the
  person busy and the one that receives their sessions, disconnect;
- ``credentials``: the app password encrypted at rest (Fernet, rotating keys);
- ``client``: the CalDAV requests (the ``caldav`` library), every failure a message for people;
- ``reading``: busy times out of calendar data (recurring and all-day events), no I/O;
- ``sync``: reading busy times on a schedule and before a booking, with backoff, and how a
  connection is doing; ``scheduling.busy`` applies the busy times;
- ``entries``: what to write into whose calendar, recorded in the transaction of a change;
  ``writing``: the writer that puts (or removes) those entries by UID.

Nothing is imported here: ``scheduling`` imports ``entries`` and ``sync``, and ``writing``
imports ``scheduling``.
"""
