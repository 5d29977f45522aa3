"""Scheduling: group and 1:1 coaching sessions.

``calendar`` builds the iCalendar (RFC 5545) files used for session invitations,
reschedules, cancellations and personal calendar feeds.
"""
