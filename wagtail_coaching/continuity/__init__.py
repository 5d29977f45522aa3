"""Continuity of care between sessions: what a coach records after a session and what the
client and the coach then see.

- ``follow_up``: a held session's summary, notes and follow-up practices, delivered to the
  client as one message;
- ``history``: the client's held sessions with their summaries, shared notes and practices,
  for their journey and their sessions page;
- ``brief``: the coach's brief before a session (one read model);
- ``intake``: what the client told us in a form, and what comes next ("what we heard").
"""
