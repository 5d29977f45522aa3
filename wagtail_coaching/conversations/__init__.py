"""Conversations between a client and their coaches: one private thread per enrollment.

- ``messaging``: writing a message (with files), the one way in for every page;
- ``attachments``: which files may be shared (size limit, type allow-list);
- ``notices``: who is told of a new message (in the app at once, by email batched);
- ``reading``: what each person has read, and settling notices once read;
- ``queries``: a thread, the inbox with unread counts, the unread totals;
- ``privacy``: the conversations in a client's data export and their erasure.

Who may read and write is the permission matrix's (``view_messages``, ``write_messages``):
the client, and the coaches assigned to them now (every stage, hand-offs and co-coaches);
team admins and coaching admins may read; HR partners and sales managers never.
"""

from .attachments import allowed_types, check_attachment
from .errors import AttachmentRefused, MessageRefused
from .messaging import conversation_for, post_message
from .queries import inbox, threads, unread_by_enrollment, unread_total
from .reading import mark_read

__all__ = [
    "AttachmentRefused",
    "MessageRefused",
    "allowed_types",
    "check_attachment",
    "conversation_for",
    "inbox",
    "mark_read",
    "post_message",
    "threads",
    "unread_by_enrollment",
    "unread_total",
]
