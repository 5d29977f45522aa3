"""Demo data for the sandbox: a believable coaching business, built through the services.

``build_demo()`` is idempotent: everything is looked up by slug, username or name first,
and a client's journey is only played out when that client has no enrollment in the
engagement yet. Running it twice changes nothing.

Progress is made with the real journey services (``enroll``, ``complete_activity``,
``unlock_activity``, ``advance``) with ``now=`` values in the past, so timelines, unlock
times and the outbox look as if the last weeks had really happened.
"""

import datetime
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from wagtail.models import Page, Site

from sandbox.home.models import HomePage
from wagtail_coaching.automation.dispatch import dispatch_events
from wagtail_coaching.automation.timed import evaluate_timed_rules
from wagtail_coaching.blocks import UnlockRule
from wagtail_coaching.conf import coaching_settings
from wagtail_coaching.journeys import (
    add_note,
    advance,
    complete_activity,
    enroll,
    enroll_many,
    pause_enrollment,
    set_consent,
    unlock_activity,
)
from wagtail_coaching.models import (
    ActivityState,
    AssignmentMethod,
    Audience,
    AvailabilitySlot,
    ClientActivity,
    CoachingSessionStatus,
    CoachProfile,
    Cohort,
    Company,
    ConsentPurpose,
    EngagementPage,
    Enrollment,
    EnrollmentSource,
    GroupSession,
    NoteVisibility,
    OfferPage,
    OfferPrice,
    Recurrence,
    Team,
    TeamMembership,
)
from wagtail_coaching.roles import ensure_role_groups
from wagtail_coaching.scheduling import (
    SessionPlan,
    book_session,
    bookable_times,
    create_sessions,
    mark_attendance,
    publish_availability,
    record_session,
    register,
    series_starts,
)
from wagtail_coaching.scheduling.booking import current_coach_id
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import make_engagement
from wagtail_coaching.testing.jobs import drain

PASSWORD = "demo1234"

# (username, first name, last name, role key in ROLE_GROUPS or None, where to go)
STAFF = [
    ("admin", "Alex", "Admin", None, "/admin/"),
    ("coach", "Morgan", "Reyes", "coach", "/admin/"),
    ("nina", "Nina", "Osei", "coach", "/admin/"),
    ("sales", "Sasha", "Brooks", "sales_manager", "/admin/"),
    ("hr", "Helen", "Ward", "hr_partner", "/admin/"),
]
CLIENTS = [
    ("client", "Casey", "Morgan"),
    ("sam", "Sam", "Turner"),
    ("priya", "Priya", "Shah"),
    ("omar", "Omar", "Haddad"),
    ("grace", "Grace", "Kim"),
    ("leo", "Leo", "Fischer"),
    ("ella", "Ella", "Novak"),
]
LOGINS = [
    ("admin", "/admin/", "superuser: engagements, clients, everything"),
    ("coach", "/admin/", "coach (group “{coach}”)"),
    ("sales", "/admin/", "sales manager (group “{sales_manager}”)"),
    ("hr", "/admin/", "HR partner at Acme Corp (group “{hr_partner}”)"),
    ("client", "/coaching/", "client halfway through Leadership Foundations"),
]

SITE_NAME = "Bright Path Coaching"
HOME_SLUG = "home"
LEADERSHIP_SLUG = "leadership-foundations"
STRESS_SLUG = "stress-reset"
STRESS_OFFER_SLUG = "try-stress-reset"
LEADERSHIP_OFFER_SLUG = "join-leadership-foundations"
COMPANY_NAME = "Acme Corp"
COHORT_NAME = "Acme Spring Leaders"


@dataclass
class DemoReport:
    created: list = field(default_factory=list)

    def add(self, text):
        self.created.append(text)


# -- Programs ------------------------------------------------------------------------------

# The questionnaire's own consent, required to send it. Sharing progress with an employer
# is a separate, optional choice the form asks sponsored clients about (and the privacy page).
CONSENT = (
    "I agree that my coaching team keeps these answers to prepare and follow my coaching."
)

INTAKE_QUESTIONS = [
    ("What is your current role?", "short_text", True, ()),
    ("What do you want to be different in six months?", "long_text", True, ()),
    ("How many people report to you?", "choice", True,
     ("None yet", "1-5", "6-15", "More than 15")),
    ("Which areas matter most to you right now?", "multiple_choice", True,
     ("Delegation", "Feedback conversations", "Strategic thinking", "Managing stress",
      "Influencing peers")),
    ("How many years have you led people?", "number", False, ()),
    ("Have you worked with a coach before?", "yes_no", True, ()),
    ("By when would you like to see progress?", "date", False, ()),
]


def leadership_program():
    a = programs.activity
    intake = a(
        "form", "Intake questionnaire", rule=UnlockRule.IMMEDIATELY,
        intro="<p>A few questions so your coach can prepare your first session. "
              "Ten minutes is plenty.</p>",
        questions=[
            programs.question(label, kind, required=required, choices=choices)
            for label, kind, required, choices in INTAKE_QUESTIONS
        ],
        consent_text=CONSENT,
    )
    return [
        programs.stage("Getting started", [
            intake,
            a("lesson", "What great leaders do differently",
              body="<p>Great leaders are not born with a trait the rest of us lack. They "
                   "build habits: they listen before they decide, they say what they expect, "
                   "and they follow up.</p><p>This lesson walks through the five habits "
                   "this programme is built on.</p>"),
            a("check_in", "Baseline: confidence as a leader",
              metric="Confidence leading your team", low_label="Not confident",
              high_label="Fully confident"),
            a("one_to_one", "Kick-off sessions with your coach", sessions=2,
              duration_minutes=60,
              description="<p>Two sessions to agree your goals and how you will work "
                          "together.</p>"),
        ], description="Tell us where you are and meet your coach."),
        programs.stage("Leading yourself", [
            a("lesson", "Energy and attention", rule=UnlockRule.DAYS_AFTER_ENROLLMENT, days=7,
              body="<p>You cannot lead others on an empty tank. Map where your energy goes "
                   "in a normal week and what gives it back.</p>"),
            a("practice", "Daily 10-minute reflection", cadence="daily",
              instructions="<p>At the end of each working day, write down one decision you "
                           "made, what you noticed, and what you would do again.</p>"),
            a("check_in", "Stress check-in", metric="Stress this week", low_label="Calm",
              high_label="Overwhelmed"),
            a("group_session", "Cohort workshop: giving feedback",
              rule=UnlockRule.DAYS_AFTER_COHORT_START, days=14,
              description="<p>A live 90-minute workshop with your cohort: practise "
                          "feedback conversations in small groups.</p>"),
            a("feedback", "How is it going?", question="How satisfied are you so far?"),
        ], description="Habits that keep you clear-headed under pressure."),
        programs.stage("Leading others", [
            a("lesson", "Delegation that sticks",
              body="<p>Delegating is not handing over a task; it is handing over an "
                   "outcome. Here is a five-step conversation that makes it work.</p>"),
            a("practice", "Delegate one real task", cadence="weekly",
              instructions="<p>Pick one task you would normally keep. Hand it over with "
                           "the five-step conversation, and note what happened.</p>"),
            a("one_to_one", "Follow-up sessions", rule=UnlockRule.MANUAL, sessions=3,
              duration_minutes=45,
              description="<p>Your coach opens these when you are ready to put the work "
                          "into practice.</p>"),
            a("check_in", "Closing check-in: confidence",
              metric="Confidence leading your team", low_label="Not confident",
              high_label="Fully confident"),
            a("feedback", "Final feedback",
              question="How satisfied are you with Leadership Foundations?"),
        ], description="From doing the work to growing the people who do it."),
    ]


def stress_program():
    a = programs.activity
    return [
        programs.stage("Notice", [
            a("lesson", "How stress works", rule=UnlockRule.IMMEDIATELY,
              body="<p>Stress is a signal, not a verdict. Learn what happens in your body "
                   "and why a short pause changes so much.</p>"),
            a("check_in", "Stress right now", metric="Stress today", low_label="Calm",
              high_label="Very stressed"),
            a("practice", "Box breathing, twice a day", cadence="daily",
              instructions="<p>Breathe in for four, hold for four, out for four, hold for "
                           "four. Four rounds, morning and afternoon.</p>"),
        ], description="See your stress clearly."),
        programs.stage("Reset", [
            a("lesson", "Sleep and recovery", rule=UnlockRule.DAYS_AFTER_ENROLLMENT, days=7,
              body="<p>Recovery is a skill. Small changes to your evenings give you "
                   "better days.</p>"),
            a("practice", "A weekly reset ritual", cadence="weekly",
              instructions="<p>Block 30 minutes each Friday to close the week: what went "
                           "well, what to drop, what to protect next week.</p>"),
            a("check_in", "Stress two weeks on", metric="Stress today", low_label="Calm",
              high_label="Very stressed"),
            a("feedback", "Was this useful?", question="How useful was Stress Reset?"),
        ], description="Build habits that give your energy back."),
    ]


def intake_answers(role, goal, reports, areas, years, coached_before, by_date):
    answers = [role, goal, reports, list(areas), years, coached_before, by_date]
    return {
        "answers": [
            {"question": label, "kind": kind, "answer": answer}
            for (label, kind, _required, _choices), answer in zip(
                INTAKE_QUESTIONS, answers, strict=True
            )
        ],
        "consent": True,
    }


# -- Site, users, company -----------------------------------------------------------------

def ensure_home(report):
    """A published HomePage as the default site's root page (replacing Wagtail's welcome
    page, if that is still the plain page a fresh install creates)."""
    root = Page.get_first_root_node()
    home = HomePage.objects.child_of(root).first()
    if home is None:
        welcome = root.get_children().filter(slug=HOME_SLUG).first()
        if welcome is not None:
            # Free the slug; the page is removed once the site points at the new home.
            welcome.slug = f"{HOME_SLUG}-welcome-{welcome.pk}"
            welcome.save()
        home = HomePage(
            title="Bright Path Coaching",
            slug=HOME_SLUG,
            intro="<p>Coaching for leaders and teams: structured programmes, a coach who "
                  "knows you, and progress you can see.</p>",
        )
        root.add_child(instance=home)
        home.save_revision().publish()
        report.add("home page")
    else:
        welcome = None

    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(
            hostname="localhost", port=80, root_page=home, is_default_site=True,
            site_name=SITE_NAME,
        )
    elif site.root_page_id != home.pk or not site.site_name:
        # Wagtail's first site has no name: the pages would say "Coaching" in the header.
        site.root_page = home
        site.site_name = site.site_name or SITE_NAME
        site.save(update_fields=["root_page", "site_name"])

    if (
        welcome is not None
        and type(welcome.specific) is Page
        and not welcome.get_children().exists()
        and not Site.objects.filter(root_page=welcome).exists()
    ):
        welcome.delete()
    return HomePage.objects.get(pk=home.pk)


@functools.cache
def _password_hash():
    # Hashed once: a strong hasher takes a noticeable moment per call.
    return make_password(PASSWORD)


def ensure_user(username, first_name, last_name, report, superuser=False, group=None):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@example.com",
            "is_staff": superuser,
            "is_superuser": superuser,
        },
    )
    if created:
        user.password = _password_hash()
        user.save(update_fields=["password"])
        report.add(f"user {username}")
    if group is not None:
        user.groups.add(group)
    return user


def ensure_engagement(home, slug, title, summary, intro, program, report):
    page = EngagementPage.objects.filter(slug=slug).first()
    if page is None:
        page = make_engagement(
            program=program, title=title, parent=home, slug=slug, summary=summary,
            intro=intro,
        )
        report.add(f"engagement {title}")
    return page


# -- Playing out journeys ------------------------------------------------------------------

class Journey:
    """Plays one client's journey forward in time through the services."""

    def __init__(self, enrollment, coach):
        self.enrollment = enrollment
        self.coach = coach

    def _fresh(self):
        return Enrollment.objects.select_related("engagement").get(pk=self.enrollment.pk)

    def catch_up(self, until):
        """Open what the periodic unlock job would have opened up to ``until``, at the
        moment each activity came due."""
        due = sorted(set(
            self.enrollment.activities.filter(
                state=ActivityState.LOCKED, unlock_at__isnull=False, unlock_at__lte=until
            ).values_list("unlock_at", flat=True)
        ))
        for moment in due:
            advance(self._fresh(), now=moment)

    def do(self, title, at, *, by=None, response=None, score=None):
        """Complete the activity called ``title`` at ``at`` (by the client unless ``by``)."""
        self.catch_up(at)
        row = self.enrollment.activities.get(title=title)
        if row.state == ActivityState.LOCKED and row.unlock_rule == UnlockRule.MANUAL:
            unlock_activity(row, actor=self.coach, now=at - datetime.timedelta(hours=2))
            row.refresh_from_db()
        if row.state != ActivityState.AVAILABLE:
            raise RuntimeError(f"Demo script: “{title}” is {row.state} at {at:%Y-%m-%d}.")
        actor = by or self.enrollment.client
        complete_activity(row, actor=actor, response=response, score=score, now=at)

    def hold_sessions(self, title, starts, summaries=()):
        """The 1:1 sessions of the step called ``title`` at each of ``starts``: each booked
        two days ahead by the coach (with the client, on the phone: a time outside the
        availability published then) and recorded as held an hour after it started. The
        step is done once every session of its allotment is held, as the service decides."""
        first_booking = starts[0] - datetime.timedelta(days=2)
        self.catch_up(first_booking)
        row = self.enrollment.activities.get(title=title)
        if row.state == ActivityState.LOCKED and row.unlock_rule == UnlockRule.MANUAL:
            unlock_activity(row, actor=self.coach,
                            now=first_booking - datetime.timedelta(hours=2))
            row.refresh_from_db()
        coach = get_user_model().objects.get(pk=current_coach_id(self.enrollment))
        summaries = list(summaries) + [""] * len(starts)
        for start, summary in zip(starts, summaries, strict=False):
            self.catch_up(start)
            row.refresh_from_db()
            session = book_session(row, start, actor=coach, override=True,
                                   now=start - datetime.timedelta(days=2))
            record_session(session, outcome=CoachingSessionStatus.COMPLETED,
                           summary=summary, actor=session.coach,
                           now=start + datetime.timedelta(hours=1))

    def pause(self, at, reason):
        self.catch_up(at)
        pause_enrollment(self.enrollment, actor=self.coach, now=at)
        add_note(self.enrollment, author=self.coach, body=reason,
                 visibility=NoteVisibility.TEAM, now=at)


def ensure_team(coaches, report):
    """The coaching team with a profile for each coach (idempotent)."""
    team, created = Team.objects.get_or_create(
        name="Bright Path coaches",
        defaults={"description": "Everyone who coaches Bright Path's clients."},
    )
    if created:
        report.add("team Bright Path coaches")
    bios = {
        "coach": ("Former engineering manager; coaches new leaders.", "Leadership, feedback",
                  "English, Spanish"),
        "nina": ("Occupational psychologist; stress and resilience.", "Stress, resilience",
                 "English, French"),
    }
    for coach in coaches:
        bio, specialties, languages = bios.get(coach.username, ("", "", "English"))
        _, made = CoachProfile.objects.get_or_create(
            user=coach, defaults={"bio": bio, "specialties": specialties,
                                  "languages": languages, "max_clients": 12},
        )
        if made:
            report.add(f"coach profile {coach.username}")
        TeamMembership.objects.get_or_create(team=team, user=coach, role="coach")
    return team


def _at(day, hour, minute=0):
    """A moment ``day`` days ago (local time), at ``hour``:``minute``."""
    local = timezone.localtime() - datetime.timedelta(days=day)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


def casey_leadership(j, start):
    """Halfway: intake, lessons, check-ins, kick-off sessions, the cohort workshop."""
    def day(n, hour):
        return start + datetime.timedelta(days=n, hours=hour - start.hour)

    j.do("Intake questionnaire", day(0, 18), response=intake_answers(
        "Engineering team lead", "Delegate more and stop being the bottleneck for every "
        "technical decision.", "6-15", ["Delegation", "Feedback conversations"], "3", "no",
        (start + datetime.timedelta(days=90)).date().isoformat(),
    ))
    j.do("What great leaders do differently", day(1, 8))
    j.do("Baseline: confidence as a leader", day(1, 8) + datetime.timedelta(minutes=12),
         score=4,
         response={"note": "Fine with the technical side, less so with the people side."})
    # One kick-off session held, one still to book (from the coach's free times).
    j.hold_sessions("Kick-off sessions with your coach", [day(6, 17)], [
        "We agreed two goals for the programme: hand over the weekly release decision to "
        "the team, and give one piece of feedback every week.",
    ])
    j.do("Energy and attention", day(8, 12))
    j.do("Daily 10-minute reflection", day(12, 19))
    j.do("Stress check-in", day(13, 9), score=6,
         response={"note": "Release week. Sleeping badly."})
    j.do("Cohort workshop: giving feedback", day(14, 16), by=j.coach)


def sam_leadership(j, start):
    """Started, then paused for parental leave."""
    j.do("Intake questionnaire", start + datetime.timedelta(days=1, hours=3),
         response=intake_answers(
             "Operations manager", "Have harder conversations earlier.", "1-5",
             ["Feedback conversations", "Managing stress"], "2", "yes", None,
         ))
    j.do("What great leaders do differently", start + datetime.timedelta(days=3, hours=2))
    j.pause(start + datetime.timedelta(days=10), "Parental leave; resumes in the summer.")


def priya_leadership(j, start):
    """Keeps up; waiting for her kick-off sessions with the coach."""
    j.do("Intake questionnaire", start + datetime.timedelta(days=2, hours=1),
         response=intake_answers(
             "Head of customer success", "Think more strategically and influence the "
             "leadership team.", "More than 15", ["Strategic thinking", "Influencing peers"],
             "8", "yes", None,
         ))
    j.do("What great leaders do differently", start + datetime.timedelta(days=2, hours=2))
    j.do("Baseline: confidence as a leader", start + datetime.timedelta(days=4), score=7)


def omar_leadership(j, start):
    """Filled in the intake, nothing since."""
    j.do("Intake questionnaire", start + datetime.timedelta(days=5, hours=4),
         response=intake_answers(
             "Finance business partner", "Lead my first team well.", "None yet",
             ["Delegation", "Strategic thinking", "Managing stress"], None, "no", None,
         ))


def grace_leadership(j, start):
    """The whole journey, finished ten days ago."""
    def day(n, hour=10):
        return start + datetime.timedelta(days=n, hours=hour - start.hour)

    j.do("Intake questionnaire", day(0, 20), response=intake_answers(
        "Product director", "Build a leadership team that does not need me in every "
        "meeting.", "6-15", ["Delegation", "Strategic thinking"], "6", "yes", None,
    ))
    j.do("What great leaders do differently", day(1))
    j.do("Baseline: confidence as a leader", day(1), score=5)
    j.hold_sessions("Kick-off sessions with your coach", [day(3), day(5)])
    j.do("Energy and attention", day(7, 12))
    j.do("Daily 10-minute reflection", day(14))
    j.do("Stress check-in", day(15), score=7, response={"note": "Board meeting week."})
    j.do("Cohort workshop: giving feedback", day(16), by=j.coach)
    j.do("How is it going?", day(16, 18), score=4,
         response={"comment": "Useful, I would like more practical examples."})
    j.do("Delegation that sticks", day(20))
    j.do("Delegate one real task", day(28))
    j.hold_sessions("Follow-up sessions", [day(36), day(43), day(50)])
    j.do("Closing check-in: confidence", day(58), score=8,
         response={"note": "My team runs the weekly review without me now."})
    j.do("Final feedback", day(60), score=5,
         response={"comment": "Morgan was brilliant. The delegation module changed how I "
                              "work."})


def ella_stress(j, start):
    """Finished Stress Reset nearly three weeks ago."""
    def day(n, hour=9):
        return start + datetime.timedelta(days=n, hours=hour - start.hour)

    j.do("How stress works", day(0, 12))
    j.do("Stress right now", day(0, 12), score=8, response={"note": "Too many deadlines."})
    j.do("Box breathing, twice a day", day(3))
    j.do("Sleep and recovery", day(8))
    j.do("A weekly reset ritual", day(15))
    j.do("Stress two weeks on", day(21), score=4)
    j.do("Was this useful?", day(22), score=5, response={"comment": "Simple and it works."})


def casey_stress(j, start):
    j.do("How stress works", start + datetime.timedelta(hours=11))


# -- Putting it together -------------------------------------------------------------------

def build_demo():
    """Create whatever part of the demo is missing. Returns a DemoReport."""
    report = DemoReport()
    with transaction.atomic():
        _build(report)
    # Jobs enqueued on commit (program sync, welcome and "step open" messages) are run here.
    # The demo's past is over: its messages are recorded as delivered without emailing
    # anyone.
    with _no_real_email():
        drain()
        # The automation rules catch up with the demo's past (welcomes, at-risk flags) the
        # way the periodic jobs would have.
        dispatch_events()
        evaluate_timed_rules()
        drain()
    return report


def _no_real_email():
    """Deliver email to memory only (as Django's test runner does, on any Django)."""
    locmem = "django.core.mail.backends.locmem.EmailBackend"
    if hasattr(settings, "MAILERS"):  # Django 6.1+ sites that opted into MAILERS
        return override_settings(
            MAILERS={alias: {"BACKEND": locmem} for alias in settings.MAILERS}
        )
    return override_settings(EMAIL_BACKEND=locmem)


def _build(report):
    home = ensure_home(report)
    groups = ensure_role_groups().groups
    staff = {}
    for username, first, last, role, _where in STAFF:
        staff[username] = ensure_user(
            username, first, last, report, superuser=(username == "admin"),
            group=groups.get(role),
        )
    clients = {u: ensure_user(u, first, last, report) for u, first, last in CLIENTS}
    coach = staff["coach"]
    admin = staff["admin"]

    leadership = ensure_engagement(
        home, LEADERSHIP_SLUG, "Leadership Foundations",
        "Twelve weeks to lead with clarity: yourself first, then your team.",
        "<p>Leadership Foundations is a twelve-week programme for new and growing leaders. "
        "You work one-to-one with a coach, learn alongside a cohort, and put every idea "
        "into practice in your real job.</p>",
        leadership_program(), report,
    )
    stress = ensure_engagement(
        home, STRESS_SLUG, "Stress Reset",
        "Four weeks to notice stress early and recover well.",
        "<p>A short, practical programme: understand your stress, build two or three "
        "habits that work for you, and measure the difference.</p>",
        stress_program(), report,
    )

    team = ensure_team([staff["coach"], staff["nina"]], report)
    for engagement in (leadership, stress):
        if engagement.team_id is None:
            # Through a published revision, so the editor shows the same team.
            page = engagement.get_latest_revision_as_object()
            page.team = team
            page.assignment_policy = AssignmentMethod.ROUND_ROBIN
            page.save_revision(user=admin).publish(user=admin)
            engagement.refresh_from_db()
            report.add(f"team of {engagement.title}")

    company, created = Company.objects.get_or_create(name=COMPANY_NAME)
    if created:
        report.add(f"company {COMPANY_NAME}")
    if not company.hr_partners.filter(pk=staff["hr"].pk).exists():
        company.hr_partners.add(staff["hr"])
        report.add(f"HR partner of {COMPANY_NAME}")
    cohort, created = Cohort.objects.get_or_create(
        name=COHORT_NAME, company=company,
        defaults={
            "engagement": leadership,
            "start_date": timezone.localdate() - datetime.timedelta(weeks=3),
        },
    )
    if created:
        report.add(f"cohort {COHORT_NAME}")

    def enrolled(user, engagement):
        return Enrollment.objects.filter(client=user, engagement=engagement).exists()

    # The Acme cohort: enrolled together on the cohort's first morning.
    cohort_scripts = {
        "client": casey_leadership,
        "sam": sam_leadership,
        "priya": priya_leadership,
        "omar": omar_leadership,
    }
    cohort_start = datetime.datetime.combine(
        cohort.start_date, datetime.time(9, 0), tzinfo=timezone.get_current_timezone()
    )
    played = []
    newcomers = [clients[u] for u in cohort_scripts if not enrolled(clients[u], leadership)]
    if newcomers:
        cohort.members.add(*newcomers)
        # Two of them let Acme's HR partner see their progress; the others keep it private.
        for username in ("client", "priya"):
            if clients[username] in newcomers:
                set_consent(clients[username], ConsentPurpose.SHARE_PROGRESS, True,
                            now=cohort_start)
        created, _ = enroll_many(
            newcomers, leadership, source=EnrollmentSource.COHORT, actor=admin, cohort=cohort,
            starts_at=cohort_start, now=cohort_start,
        )
        for enrollment in created:
            username = enrollment.client.username
            journey = Journey(enrollment, coach)
            cohort_scripts[username](journey, cohort_start)
            played.append(journey)
            report.add(f"journey {username} / {leadership.title}")

    # Individual clients.
    individual = [
        ("grace", leadership, _at(70, 9), grace_leadership),
        ("leo", leadership, _at(1, 15, 30), None),
        ("ella", stress, _at(40, 9), ella_stress),
        ("client", stress, _at(2, 9), casey_stress),
    ]
    for username, engagement, start, script in individual:
        user = clients[username]
        if enrolled(user, engagement):
            continue
        enrollment = enroll(
            user, engagement, actor=admin, starts_at=start, now=start,
            company=company if username == "client" else None,
        )
        journey = Journey(enrollment, coach)
        if script is not None:
            script(journey, start)
        played.append(journey)
        report.add(f"journey {username} / {engagement.title}")

    # Whatever came due since, the periodic unlock job would have opened by now (a paused
    # journey stays as it was: nothing opens while paused).
    now = timezone.now()
    for journey in played:
        journey.catch_up(now)

    ensure_sessions(report, staff, clients, cohort, leadership, team)
    ensure_offers(home, leadership, stress, admin, report)


SERIES_TITLE = "Acme leadership circle"


def ensure_sessions(report, staff, clients, cohort, leadership, team):
    """A past cohort session with attendance, a weekly series ahead with registrations and
    a waitlist-free seat count, the coaches' availability, and a booked 1:1."""
    coach, nina = staff["coach"], staff["nina"]
    if not GroupSession.objects.filter(title=SERIES_TITLE).exists():
        tz = timezone.get_current_timezone_name()
        past_start = _at(7, 17)
        (past,) = create_sessions(
            SessionPlan(
                title=SERIES_TITLE, coach=coach, team=team, starts_at=past_start,
                duration=datetime.timedelta(minutes=90), time_zone=tz, capacity=12,
                video_link="https://meet.example.com/acme-circle", audience=Audience.COHORT,
                cohort=cohort, engagement=leadership, co_coaches=[nina],
            ),
            [past_start], invite=False, now=past_start - datetime.timedelta(days=3),
        )
        members = [clients[u] for u in ("client", "priya", "omar")]
        for member in members:
            register(past, member, now=past_start - datetime.timedelta(days=2))
        mark_attendance(
            past, {clients["client"].pk: "attended", clients["priya"].pk: "attended",
                   clients["omar"].pk: "no_show"},
            actor=coach, now=past_start + datetime.timedelta(hours=2),
        )
        first = (timezone.localtime() + datetime.timedelta(days=7)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        upcoming = create_sessions(
            SessionPlan(
                title=SERIES_TITLE, coach=coach, team=team, starts_at=first,
                duration=datetime.timedelta(minutes=90), time_zone=tz, capacity=12,
                video_link="https://meet.example.com/acme-circle", audience=Audience.COHORT,
                cohort=cohort, engagement=leadership, co_coaches=[nina],
            ),
            series_starts(first, Recurrence.WEEKLY, count=4, time_zone=tz),
            recurrence=Recurrence.WEEKLY, actor=staff["admin"],
        )
        register(upcoming[0], clients["client"])
        report.add(f"group sessions: one held, a weekly series of {len(upcoming)}")
    ensure_availability(report, coach, nina)
    priya_step = ClientActivity.objects.filter(
        enrollment__client=clients["priya"], enrollment__engagement=leadership,
        kind="one_to_one", state=ActivityState.AVAILABLE,
    ).first()
    if priya_step is not None and not priya_step.coaching_sessions.exists():
        times = bookable_times(priya_step)
        if times:
            book_session(priya_step, times[0], actor=clients["priya"])
            report.add("a booked 1:1 session for priya")


# When each coach offers 1:1 sessions (weekdays, Monday = 0): mornings, 9:00 to 12:00 local.
AVAILABILITY_DAYS = {"coach": (0, 2, 4), "nina": (1, 3, 4)}
AVAILABILITY_HOURS = (9, 12)
AVAILABILITY_WEEKS = 3


def ensure_availability(report, *coaches, today=None):
    """Both coaches offer their mornings for the coming weeks, counted from today: each
    of their days in the next ``AVAILABILITY_WEEKS`` weeks that has no slot yet gets one
    (so loading the demo again later tops the weeks up, and loading it twice adds nothing)."""
    today = today or timezone.localdate()
    zone = timezone.get_current_timezone()
    start_hour, end_hour = AVAILABILITY_HOURS
    for coach in coaches:
        added = 0
        for offset in range(1, AVAILABILITY_WEEKS * 7 + 1):
            day = today + datetime.timedelta(days=offset)
            if day.weekday() not in AVAILABILITY_DAYS.get(coach.username, ()):
                continue
            start = datetime.datetime.combine(day, datetime.time(start_hour), tzinfo=zone)
            end = datetime.datetime.combine(day, datetime.time(end_hour), tzinfo=zone)
            if AvailabilitySlot.objects.filter(
                coach=coach, starts_at__lt=end, ends_at__gt=start
            ).exists():
                continue
            publish_availability(coach, start=start, end=end, slot_minutes=60,
                                 time_zone=zone.key)
            added += 1
        if added:
            report.add(f"availability of {coach.username} ({added} mornings)")


def ensure_offers(home, leadership, stress, admin, report):
    """Two offer pages: Stress Reset for free, Leadership Foundations paid (one payment or
    three). Paid prices sell once Stripe keys are set; until then they say so."""
    faq = {"heading": "Frequently asked questions", "questions": [
        {"question": "Can I take it at my own pace?",
         "answer": "<p>Yes. Steps open as you go; nothing expires while your access runs.</p>"},
        {"question": "Who are the coaches?",
         "answer": "<p>Certified coaches with years of leadership and wellbeing practice.</p>"},
    ]}
    offers = [
        (STRESS_OFFER_SLUG, "Try Stress Reset for free", stress,
         "Four weeks, free: notice stress early and recover well.",
         [{"type": "hero", "value": {
             "heading": "Stress Reset, free",
             "subheading": "Short lessons, a weekly check-in and two habits that give your "
                           "energy back.",
             "call_to_action": "Start now",
         }}, {"type": "faq", "value": faq}],
         [{"label": "Free", "amount": "0", "currency": "eur", "payment_model": "free"}]),
        (LEADERSHIP_OFFER_SLUG, "Join Leadership Foundations", leadership,
         "Twelve weeks with a coach and a cohort of new leaders.",
         [{"type": "hero", "value": {
             "heading": "Leadership Foundations",
             "subheading": "Twelve weeks to lead with clarity: yourself first, then your "
                           "team.",
             "call_to_action": "See the prices",
         }},
          {"type": "testimonials", "value": {"heading": "What leaders say", "testimonials": [
              {"quote": "The delegation module changed how I work.", "name": "Grace Kim",
               "role": "Product director"},
          ]}},
          {"type": "pricing", "value": {"heading": "Choose your plan", "intro": ""}},
          {"type": "faq", "value": faq}],
         [{"label": "Pay once", "amount": "490.00", "currency": "eur",
           "payment_model": "one_time"},
          {"label": "Three payments", "amount": "170.00", "currency": "eur",
           "payment_model": "installments", "interval": "month", "installments": 3}]),
    ]
    for slug, title, engagement, summary, body, prices in offers:
        if OfferPage.objects.filter(slug=slug).exists():
            continue
        page = OfferPage(title=title, slug=slug, summary=summary, body=body, live=False)
        page.engagements = [engagement]
        page.prices = [OfferPrice(**price) for price in prices]
        home.add_child(instance=page)
        page.save_revision(user=admin).publish(user=admin)
        report.add(f"offer {title}")


def logins(base_url=""):
    """One line per demo login: username / password / where to go."""
    groups = coaching_settings.ROLE_GROUPS
    width = max(len(u) for u, *_ in LOGINS)
    return [
        f"  {username:<{width}} / {PASSWORD}  ->  {base_url}{where:<11} {what.format(**groups)}"
        for username, where, what in LOGINS
    ]


def demo_users_exist():
    return get_user_model().objects.filter(username__in=[u for u, *_ in LOGINS]).count() == len(
        LOGINS
    )
