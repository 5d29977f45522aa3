"""Settings for wagtail-coaching.

One dictionary setting, ``WAGTAIL_COACHING``, merged over :data:`DEFAULTS`. Values are read
on every access, so ``override_settings`` works in tests.
"""

from django.conf import settings as django_settings

DEFAULTS = {
    # Names of the Django groups that give a user a coaching role.
    "ROLE_GROUPS": {
        "admin": "Coaching admins",
        "coach": "Coaches",
        "sales_manager": "Sales managers",
        "hr_partner": "HR partners",
    },
    # Roles a team member can hold on a team, with their labels. The coaching roles among
    # them (COACHING_ROLES) can be assigned to clients and can lead a stage.
    "TEAM_ROLES": {
        "coach": "Coach",
        "lead_coach": "Lead coach",
        "specialist": "Specialist",
        "admin": "Team admin",
        "sales_manager": "Sales manager",
        "hr_partner": "HR partner",
    },
    "COACHING_ROLES": ["coach", "lead_coach", "specialist"],
    # Extra roles' permissions: {"supervisor": {"view_enrollment": "coached|team"}}; the
    # role's group goes in ROLE_GROUPS. Scope names are listed in docs/permissions.md.
    "ROLE_PERMISSIONS": {},
    # A client with no activity for this many days shows as needing attention.
    "ATTENTION_AFTER_DAYS": 7,
    # Time zone used to turn calendar dates (e.g. "unlock on 1 March") into instants, and
    # shown to clients who have not chosen one. None means settings.TIME_ZONE.
    "TIME_ZONE": None,
    # Rows handled per batch by bulk jobs (time-based unlocks, program sync).
    "BATCH_SIZE": 1000,
    # Cron schedules (in Django's TIME_ZONE, read when the tasks module is imported) of the
    # time-based unlock job and of the outbox sweeper.
    "UNLOCK_SCHEDULE": "* * * * *",
    "SWEEP_SCHEDULE": "*/5 * * * *",
    # Outbox: how many times a notification is attempted, and how long the sweeper waits
    # before it retries one that is still unsent.
    "NOTIFICATION_MAX_ATTEMPTS": 5,
    "NOTIFICATION_RETRY_AFTER_SECONDS": 300,
    # Sender address of coaching emails; None means settings.DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # Absolute base URL used in emails, e.g. "https://coaching.example.com". None means
    # settings.WAGTAILADMIN_BASE_URL, else the default Wagtail Site (utils/urls.py).
    "BASE_URL": None,
    # How many recent journey events the client dashboard lists.
    "DASHBOARD_RECENT_EVENTS": 8,
    # Payments. Stripe is enabled when STRIPE_SECRET_KEY is set; the webhook secret (whsec_...)
    # of the endpoint that receives Stripe's events is then required (system check).
    "STRIPE_SECRET_KEY": None,
    "STRIPE_WEBHOOK_SECRET": None,
    # Base URL of the Stripe API; None means Stripe's own. Tests point it at a local fake.
    "STRIPE_API_BASE": None,
    # How old (seconds) a signed webhook may be before it is refused; must be above zero.
    "STRIPE_WEBHOOK_TOLERANCE": 300,
    # Where a verified Stripe event is handled: "inline" in the webhook request (works with
    # no worker), or "background": recorded and answered at once, then handled by the
    # handle_stripe_event job (Stripe's advice; the request is as quick as a single insert).
    "STRIPE_WEBHOOK_HANDLING": "inline",
    # Retries of a failed Stripe API call (safe: every write carries an idempotency key).
    "STRIPE_MAX_NETWORK_RETRIES": 2,
    # Days a subscription or installment plan may stay unpaid before access pauses.
    "PAYMENT_GRACE_DAYS": 7,
    # Cron schedule (UTC) of the job that pauses overdue plans and ends expired access.
    "PAYMENT_SWEEP_SCHEDULE": "17 * * * *",
    # Sessions. A client who cancels a 1:1 session this close to its start uses it up (and can
    # no longer reschedule it).
    "LATE_CANCEL_HOURS": 24,
    # How long the accept/decline links of a session invitation work (seconds); they also
    # stop working once the session has started.
    "RSVP_MAX_AGE": 60 * 60 * 24 * 30,
    # How far ahead clients can book 1:1 sessions (days), and the least notice (hours).
    "BOOKING_HORIZON_DAYS": 60,
    "BOOKING_NOTICE_HOURS": 12,
    # Name shown as the organiser of calendar invitations (its address is FROM_EMAIL).
    "ORGANIZER_NAME": "",
    # Coaches' own calendars over CalDAV (docs/calendars.md). The key that encrypts the
    # stored app passwords: a Fernet key, or a list of them to rotate (the first encrypts,
    # every one decrypts); None derives one from SECRET_KEY (and SECRET_KEY_FALLBACKS).
    "CALENDAR_ENCRYPTION_KEY": None,
    # Cron schedule of the job that reads coaches' busy times and retries calendar writes.
    "CALENDAR_SYNC_SCHEDULE": "*/10 * * * *",
    # Seconds a CalDAV server may take to answer before it counts as unreachable.
    "CALENDAR_TIMEOUT_SECONDS": 10,
    # Busy times read longer ago than this (seconds) are read again before a booking or a
    # move is confirmed.
    "CALENDAR_REFRESH_BEFORE_BOOKING_SECONDS": 120,
    # While a calendar cannot be read, its last known busy times stay in force this many
    # hours after the last successful read; then they no longer count (the coach is warned).
    "CALENDAR_BUSY_KEEP_HOURS": 24,
    # Automation. A client is at risk after this many days without activity, or after missing
    # this many sessions in a row (see metrics.py).
    "AT_RISK_INACTIVE_DAYS": 10,
    "AT_RISK_MISSED_IN_A_ROW": 2,
    # Reports (see metrics.py). An active client is engaged if they did something in the
    # last ENGAGED_DAYS days; a feedback score of CSAT_SATISFIED_FROM (1-5) or more counts
    # as satisfied.
    "ENGAGED_DAYS": 7,
    "CSAT_SATISFIED_FROM": 4,
    # Cron schedules of the rules dispatcher (reads new timeline events) and of the
    # time-based rules.
    "RULES_SCHEDULE": "* * * * *",
    "TIMED_RULES_SCHEDULE": "*/5 * * * *",
    # Messages between a client and their coaches. Attachments: the largest file one may
    # share (bytes) and the types allowed, by extension with the content type they are served
    # with; the storage (a name in Django's STORAGES) that keeps them: it must not be served
    # to the public, the package serves each file to the conversation's members only.
    "MESSAGE_ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "MESSAGE_ATTACHMENT_TYPES": {
        ".pdf": "application/pdf",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".txt": "text/plain",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".odt": "application/vnd.oasis.opendocument.text",
    },
    "MESSAGE_ATTACHMENT_STORAGE": "default",
    # New messages are emailed after this many seconds, one email for all the messages of a
    # conversation written meanwhile (in-app notices come at once). Keep it below
    # NOTIFICATION_RETRY_AFTER_SECONDS plus the sweeper's period, which is the latest the
    # sweeper sends a delayed email whose job was lost.
    "MESSAGE_EMAIL_DELAY_SECONDS": 120,
    # Where a visitor creates an account before buying (a URL or URL name). None: the sign-up
    # page of the package's accounts pages, where the site mounts them; "" hides the link.
    "SIGNUP_URL": None,
    # wagtail_coaching.accounts: attempts one address may make per window of seconds, per
    # action, before it is asked to wait; None switches an action's limit off.
    "ACCOUNT_RATE_LIMITS": {
        "signup": (20, 60 * 60),
        "login": (20, 15 * 60),  # failed sign-ins only
        "password_reset": (5, 60 * 60),
    },
    # Enquiries from offer pages ("Ask about this"): how many one email address and one client
    # address may send per window of seconds, ``(attempts, seconds)``; None switches one off.
    "ENQUIRY_RATE_LIMITS": {
        "email": (3, 60 * 60),
        "address": (10, 60 * 60),
    },
}


class CoachingSettings:
    """Attribute access to the merged setting: ``coaching_settings.BATCH_SIZE``."""

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown wagtail-coaching setting: {name}")
        user = getattr(django_settings, "WAGTAIL_COACHING", {}) or {}
        value = user.get(name, DEFAULTS[name])
        if isinstance(DEFAULTS[name], dict) and name in user:
            value = {**DEFAULTS[name], **user[name]}
        return value

    @property
    def time_zone_name(self):
        return self.TIME_ZONE or django_settings.TIME_ZONE

    @property
    def from_email(self):
        return self.FROM_EMAIL or django_settings.DEFAULT_FROM_EMAIL


coaching_settings = CoachingSettings()
