"""The coaching admin: the "Coaching" menu (clients, teams, coaches, companies, cohorts), the
client card, and the dashboard panels.

Importing this package does nothing: ``wagtail_hooks.py`` registers its pieces. (Django's
admin autodiscovery imports ``<app>.admin`` on sites that install ``django.contrib.admin``.)
Every decision about who may see or do what is asked of ``wagtail_coaching.permissions``.
"""
