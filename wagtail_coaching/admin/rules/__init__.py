"""Automation rules in the coaching admin (Coaching → Automation).

- the list: each rule's trigger in words, its engagement (or all engagements), active or
  paused, how often it fired in the last 30 days, and whether it is built in; a fixed number
  of queries however many rules;
- "Add" and "Edit": the rule's trigger and its details, conditions and actions, checked
  before anything is saved (``RuleForm``); a truncated or garbled submission of the actions
  shows the form again with an error, never a server error;
- the rule's page (inspect): the rule in words and its recent firings, with the actions
  ``rule_pause`` and ``rule_resume`` (POST) and ``rule_dry_run`` (GET: the enrollments the
  rule would act on now, with nothing fired), under ``/admin/coaching/rules/<id>/``;
- the editor's choosers of stages and steps, from the engagement's published program, and
  the JSON they reload from when the engagement changes (``rule_program``, for those with
  ``automate_engagement``).

Who may do what is the matrix's: ``view_automationrule`` lists, inspects and dry-runs (a
coach: the rules for all engagements and those of engagements their team runs),
``change_automationrule`` creates, edits, pauses and resumes (admins). A rule is looked up
inside ``visible()`` (404 otherwise), a change checked with ``allowed()`` (403 otherwise).
Nothing is deleted here: built-in rules can be edited and paused, not removed. Pausing,
resuming, the firings and the dry run are ``automation.rules``'s; this package shows them.

A rule only acts on what comes due once it is active: switching a rule on (creating it
active, ticking "active" again, or "Resume") sets ``active_since``, and so does changing
the trigger, timing or conditions of an active time-based rule, so that it never fires for
everything that came due in the past.

Modules: ``options`` (the ModelAdmin, its columns, permission and button helpers),
``views`` (add, edit and the rule's page), ``actions`` (pause, resume, the dry run and the
program's JSON, with their URLs), ``forms`` (``RuleForm`` and the editor's panels),
``widgets`` (the stage and step choosers), ``filters``, ``program`` (an engagement's
published activities and stages as a rule names them) and ``text`` (how a rule reads).
"""

from .actions import urlpatterns
from .options import AutomationRulesAdmin

__all__ = ["AutomationRulesAdmin", "urlpatterns"]
