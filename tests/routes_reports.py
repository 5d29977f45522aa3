"""Rows of the URL × role table for the reports: each report's page and the fragment its
filters refresh, under the matrix action that opens the report (see
tests/test_admin_matrix.py; what each role sees inside is tests/test_reports.py's)."""

from .routes import Route

# Written out rather than read from the reports, so that a report changing its action
# shows up here.
REPORT_ACTIONS = {
    "progress": "view_coaching_reports",
    "retention": "view_coaching_reports",
    "time_to_first_session": "view_coaching_reports",
    "no_shows": "view_coaching_reports",
    "coach_load": "view_coaching_reports",
    "satisfaction": "view_coaching_reports",
    "outcomes": "view_coaching_reports",
    "sessions_delivered": "view_payouts",
    "sales": "view_sales_report",
    "company": "view_company_report",
}

REPORT_ROUTES = {
    name: Route(action=action)
    for slug, action in REPORT_ACTIONS.items()
    for name in (f"wagtail_coaching_admin:report_{slug}",
                 f"wagtail_coaching_admin:report_{slug}_results")
}
