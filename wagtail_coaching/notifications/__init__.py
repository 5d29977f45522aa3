"""Notifications: the messages the package sends people, by email and in the app.

- ``kinds``: every kind of message, declared once (its label, whether only the coaching team
  gets it, whether its recipient may switch it off, whether a rule may send it).
- ``outbox``: messages written in the same transaction as their cause, sent after commit,
  retried by the sweeper.
- ``emails``: a notification rendered and delivered as an email.
- ``in_app``: the reader's in-app notifications, as lines of text with a link.
- ``inbox``: the in-app list's read state.
- ``preferences``: which kinds of message a person receives.
"""
