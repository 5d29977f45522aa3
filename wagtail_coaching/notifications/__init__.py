"""Notifications as their reader sees them: the in-app list's read state (``inbox``) and
which kinds of message they receive (``preferences``). Writing and sending messages is the
outbox's (``wagtail_coaching.outbox``)."""
