"""Bad, truncated and hand-made submissions of three forms: a coach's profile, a person's
notification settings and the automation rule editor. Each is refused with a clear message
(4xx or the form shown again), changes nothing, and never fails with a server error.

NUL bytes may be refused with a 400 before a view of the package runs; the forms are also
bound directly with them here, so that they stay safe wherever they are used.
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from wagtail.test.utils.form_data import rich_text, streamfield

from wagtail_coaching.admin.modeladmins import COACH_PANELS, coach_panels
from wagtail_coaching.admin.rules.forms import RULE_PANELS
from wagtail_coaching.models import AutomationRule, CoachProfile, NotificationPreference
from wagtail_coaching.models.teams import BIO_MAX_LENGTH
from wagtail_coaching.notifications.kinds import optional_kinds
from wagtail_coaching.testing.factories import UserFactory

from .test_admin_clients import admin_world, as_user, message_texts
from .test_admin_rules import CREATE, EDIT, error_messages, form_data, notify

pytestmark = pytest.mark.django_db

COACHES = "/admin/coaching/coaches/"
SETTINGS = reverse("wagtail_coaching:notification_settings")


def build_shared_world():
    return admin_world()


@pytest.fixture
def world(shared):
    return shared


# -- A coach's profile -------------------------------------------------------------------------

def profile_of(user):
    return CoachProfile.objects.get(user=user)


def profile_data(**fields):
    """Everything the edit form sends from a browser, "taking clients" ticked."""
    data = {
        "bio": "I help leaders.", "specialties": "Leadership", "languages": "en, fr",
        "time_zone": "Europe/Paris", "photo": "", "active": "on", "max_clients": "12",
    }
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


@pytest.fixture
def coach_profile(world):
    """coach_a's profile, filled in and taking clients."""
    CoachProfile.objects.filter(user=world.coach_a).update(
        bio="Kept bio", specialties="Kept", languages="en", time_zone="Europe/Berlin",
        active=True, max_clients=10,
    )
    return profile_of(world.coach_a)


def kept(profile):
    """The profile is as the fixture left it."""
    fresh = profile_of(profile.user)
    return (fresh.bio, fresh.specialties, fresh.languages, fresh.time_zone, fresh.active,
            fresh.max_clients) == ("Kept bio", "Kept", "en", "Europe/Berlin", True, 10)


def edit_profile(client, user, profile, data):
    return as_user(client, user).post(f"{COACHES}edit/{profile.pk}/", data)


@pytest.mark.parametrize("zone", [
    "Mars/Olympus", "../../etc/passwd", "/etc/passwd", "europe/paris", "x" * 1000,
])
def test_a_coach_time_zone_must_be_a_real_zone(client, world, coach_profile, zone):
    response = edit_profile(client, world.admin, coach_profile, profile_data(time_zone=zone))
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"] == ["Choose a time zone from the list."]
    assert kept(coach_profile)


def test_a_real_time_zone_or_the_sites_is_kept(client, world, coach_profile):
    response = edit_profile(client, world.admin, coach_profile,
                            profile_data(time_zone="America/New_York"))
    assert response.status_code == 302, response.context["form"].errors
    assert profile_of(world.coach_a).time_zone == "America/New_York"
    response = client.post(f"{COACHES}edit/{coach_profile.pk}/", profile_data(time_zone=""))
    assert response.status_code == 302, response.context["form"].errors
    assert profile_of(world.coach_a).time_zone == ""


def test_the_edit_form_offers_the_time_zones(client, world, coach_profile):
    html = as_user(client, world.admin).get(f"{COACHES}edit/{coach_profile.pk}/").content.decode()
    assert '<option value="Europe/Berlin" selected>' in html
    assert '<option value="Mars/Olympus"' not in html


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "UTC\x00"])
def test_the_model_refuses_what_is_not_a_time_zone(world, zone):
    profile = profile_of(world.coach_a)
    profile.time_zone = zone
    with pytest.raises(ValidationError) as raised:
        profile.full_clean()
    assert "time_zone" in raised.value.message_dict
    for good in ("", "UTC", "Asia/Kolkata"):
        profile.time_zone = good
        profile.full_clean()


def test_a_bio_has_a_maximum_length(client, world, coach_profile):
    huge = "a" * (1024 * 1024)
    response = edit_profile(client, world.admin, coach_profile, profile_data(bio=huge))
    assert response.status_code == 200
    assert response.context["form"].errors["bio"] == [
        f"Ensure this value has at most {BIO_MAX_LENGTH} characters (it has {len(huge)})."
    ]
    assert kept(coach_profile)
    longest = "b" * BIO_MAX_LENGTH
    response = client.post(f"{COACHES}edit/{coach_profile.pk}/", profile_data(bio=longest))
    assert response.status_code == 302
    assert profile_of(world.coach_a).bio == longest


@pytest.mark.parametrize("field, value", [
    ("specialties", "s" * 256), ("languages", "l" * 256), ("max_clients", "many"),
    ("max_clients", "-1"),
])
def test_other_fields_are_checked_too(client, world, coach_profile, field, value):
    response = edit_profile(client, world.admin, coach_profile, profile_data(**{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert kept(coach_profile)


@pytest.mark.parametrize("who", ["admin", "coach_a"])
def test_an_empty_post_wipes_nothing_and_does_not_deactivate(client, world, coach_profile,
                                                             who):
    response = edit_profile(client, getattr(world, who), coach_profile, {})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.non_field_errors() == [
        "The form arrived incomplete, so nothing was saved. Please fill it in again."
    ]
    assert form.errors["bio"] == ["This field was missing from the form sent."]
    assert kept(coach_profile)


@pytest.mark.parametrize("missing", ["bio", "specialties", "languages", "time_zone", "photo",
                                     "max_clients"])
def test_a_truncated_post_is_refused_whole(client, world, coach_profile, missing):
    # "active" is left out as well: without the rest of the form, that is no unticking.
    data = profile_data(**{missing: None, "active": None})
    response = edit_profile(client, world.admin, coach_profile, data)
    assert response.status_code == 200
    assert missing in response.context["form"].errors
    assert kept(coach_profile)


def test_unticking_taking_clients_on_the_whole_form_does_deactivate(client, world,
                                                                     coach_profile):
    response = edit_profile(client, world.coach_a, coach_profile, profile_data(active=None))
    assert response.status_code == 302, response.context["form"].errors
    mine = profile_of(world.coach_a)
    assert not mine.active and mine.bio == "I help leaders."
    assert mine.max_clients == 10  # not the coach's to change


@pytest.mark.parametrize("field, value", [
    ("bio", "Hello\x00there"), ("specialties", "nul\x00"), ("time_zone", "Europe/Paris\x00"),
])
def test_the_profile_form_refuses_nul_bytes(world, coach_profile, field, value):
    form = coach_panels(COACH_PANELS).get_form_class()(
        data=profile_data(**{field: value}), instance=coach_profile, for_user=world.admin
    )
    assert not form.is_valid()
    assert field in form.errors
    assert kept(coach_profile)


def test_an_empty_post_creates_no_profile(client, world):
    newcomer = UserFactory(username="newcomer")
    count = CoachProfile.objects.count()
    response = as_user(client, world.admin).post(f"{COACHES}create/", {"user": newcomer.pk})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert CoachProfile.objects.count() == count


# -- Notification settings ---------------------------------------------------------------------

def staff_only(name):
    from wagtail_coaching.notifications.kinds import KINDS

    return KINDS[name].staff_only


CLIENT_KINDS = sorted(name for name in optional_kinds() if not staff_only(name))


def switched_off(user):
    return set(NotificationPreference.objects.filter(user=user, enabled=False)
               .values_list("kind", flat=True))


def stored_kinds(user):
    return set(NotificationPreference.objects.filter(user=user).values_list("kind", flat=True))


def test_the_settings_page_lists_what_it_will_change(client, client_user):
    client.force_login(client_user)
    html = client.get(SETTINGS).content.decode()
    for name in CLIENT_KINDS:
        assert f'<input type="hidden" name="shown" value="{name}">' in html
    assert 'name="shown" value="payment_problem"' not in html
    assert 'name="shown" value="at_risk_alert"' not in html
    assert "Saving changes only the messages listed on this page." in html
    assert 'name="all_off" value="1"' in html


@pytest.mark.parametrize("body", [
    {}, {"enabled": "welcome"}, {"shown": ""}, {"shown": "no_such_kind"},
    {"shown": "payment_problem"},  # always sent: nothing on the page to change
    {"shown": "at_risk_alert"},  # a staff kind: not on a client's page
    {"all_off": "1"},
])
def test_a_post_without_the_forms_list_changes_nothing(client, client_user, body):
    NotificationPreference.objects.create(user=client_user, kind="session_reminder",
                                          enabled=False)
    client.force_login(client_user)
    response = client.post(SETTINGS, body)
    assert response.status_code == 400
    assert "the form arrived incomplete. Nothing was changed" in response.content.decode()
    assert switched_off(client_user) == {"session_reminder"}
    assert stored_kinds(client_user) == {"session_reminder"}


def test_only_the_kinds_shown_change(client, client_user):
    NotificationPreference.objects.create(user=client_user, kind="session_reminder",
                                          enabled=False)
    client.force_login(client_user)
    response = client.post(SETTINGS, {"shown": ["welcome"]})
    assert response.status_code == 302
    assert switched_off(client_user) == {"session_reminder", "welcome"}
    client.post(SETTINGS, {"shown": ["session_reminder"], "enabled": ["session_reminder"]})
    assert switched_off(client_user) == {"welcome"}


def test_unknown_or_forbidden_kinds_are_never_stored(client, client_user):
    client.force_login(client_user)
    response = client.post(SETTINGS, {
        "shown": ["welcome", "no_such_kind", "payment_problem", "at_risk_alert", "x" * 500],
        "enabled": ["no_such_kind"],
    })
    assert response.status_code == 302
    assert stored_kinds(client_user) == {"welcome"}


def test_unticking_every_box_on_the_page_switches_everything_off(client, client_user):
    client.force_login(client_user)
    response = client.post(SETTINGS, {"shown": CLIENT_KINDS})
    assert response.status_code == 302
    assert switched_off(client_user) == set(CLIENT_KINDS)


def test_the_switch_everything_off_button(client, client_user):
    client.force_login(client_user)
    response = client.post(SETTINGS, {
        "shown": CLIENT_KINDS, "enabled": CLIENT_KINDS, "all_off": "1",
    })
    assert response.status_code == 302
    assert switched_off(client_user) == set(CLIENT_KINDS)
    assert message_texts(response) == [
        "Optional messages are switched off. Payments and changes to what you are booked on "
        "are still sent."
    ]


# -- The automation rule editor ----------------------------------------------------------------

def enroll_action(engagement):
    return ("enroll", {"engagement": engagement})


def add_lesson():
    return ("add_activity", {
        "activity": streamfield([("lesson", {
            "title": "Extra", "unlock": {"rule": "immediately", "days": "", "date": ""},
            "lead_role": "", "body": rich_text("<p>x</p>"), "video": "", "document": "",
        })]),
        "stage_block_id": "",
    })


def add_form():
    question = {"label": "Ready?", "kind": "short_text", "choices": "", "required": "on",
                "help_text": ""}
    return ("add_activity", {
        "activity": streamfield([("form", {
            "title": "Intake", "unlock": {"rule": "immediately", "days": "", "date": ""},
            "lead_role": "", "intro": rich_text(""), "consent_text": "",
            "questions": {"count": 1, "0": {"value": question, "deleted": "", "order": 0,
                                            "id": ""}},
        })]),
        "stage_block_id": "",
    })


def without(*keys):
    def change(data):
        for key in keys:
            data.pop(key)
    return change


def setting(key, value):
    def change(data):
        data[key] = value
    return change


UNREADABLE = "These could not be read: the form arrived incomplete or damaged."
BAD_ID = "These could not be read: a block has a damaged id."
LESSON = "actions-0-value-activity-0-value"

# name: (actions, how the body is garbled, the message expected on "actions" or None)
GARBLED = {
    "no count": ([notify()], without("actions-count"), UNREADABLE),
    "count not a number": ([notify()], setting("actions-count", "many"), UNREADABLE),
    "count negative": ([notify()], setting("actions-count", "-5"), None),
    "huge count": ([notify()], setting("actions-count", str(10**9)), UNREADABLE),
    "count with a NUL": ([notify()], setting("actions-count", "1\x00"), UNREADABLE),
    "no type": ([notify()], without("actions-0-type"), UNREADABLE),
    "no deleted": ([notify()], without("actions-0-deleted"), UNREADABLE),
    "no order": ([notify()], without("actions-0-order"), UNREADABLE),
    "order not a number": ([notify()], setting("actions-0-order", "first"), UNREADABLE),
    "unknown type": ([notify()], setting("actions-0-type", "drop_tables"), None),
    "no child fields": ([notify()], without(
        "actions-0-value-recipient", "actions-0-value-channel", "actions-0-value-template",
        "actions-0-value-subject", "actions-0-value-body"), None),
    "NUL in a text": ([notify(template="custom", subject="Hi\x00", body="x")], None, None),
    "NUL in a block id": ([notify()], setting("actions-0-id", "abc\x00"), BAD_ID),
    "a very long block id": ([notify()], setting("actions-0-id", "i" * 5000), BAD_ID),
    "nested stream without count": ([add_lesson()],
                                    without("actions-0-value-activity-count"), UNREADABLE),
    "nested struct field missing": ([add_lesson()], without(f"{LESSON}-unlock-rule"), None),
    "list without count": ([add_form()], without(f"{LESSON}-questions-count"), UNREADABLE),
    "list count huge": ([add_form()], setting(f"{LESSON}-questions-count", str(10**9)),
                        UNREADABLE),
    "list item without deleted": ([add_form()], without(f"{LESSON}-questions-0-deleted"),
                                  UNREADABLE),
    "NUL in a list item id": ([add_form()], setting(f"{LESSON}-questions-0-id", "q\x00"),
                              BAD_ID),
    "rich text not JSON": ([add_lesson()], setting(f"{LESSON}-body", "<p>x</p>"), UNREADABLE),
    "rich text of the wrong shape": ([add_lesson()], setting(f"{LESSON}-body", '{"blocks": 5}'),
                                     UNREADABLE),
    "rich text a list": ([add_lesson()], setting(f"{LESSON}-body", "[1, 2]"), UNREADABLE),
    "NUL in a nested block id": ([add_lesson()], setting(
        "actions-0-value-activity-0-id", "\x00"), BAD_ID),
    "page id not a number": ([enroll_action(1)], setting("actions-0-value-engagement", "abc"),
                             UNREADABLE),
    "page id with a NUL": ([enroll_action(1)], setting("actions-0-value-engagement", "1\x00"),
                           UNREADABLE),
}


def garbled_body(actions, change, **fields):
    data = dict(form_data(actions=actions, name="Garbled", **fields))
    if change:
        change(data)
    return data


def has_nul(data):
    return any("\x00" in f"{key}{value}" for key, value in data.items())


@pytest.mark.parametrize("case", sorted(GARBLED))
def test_a_garbled_rule_is_shown_again_and_nothing_is_saved(client, world, case):
    actions, change, message = GARBLED[case]
    count = AutomationRule.objects.count()
    body = garbled_body(actions, change)
    response = as_user(client, world.admin).post(reverse(CREATE), body)
    assert AutomationRule.objects.count() == count
    assert not AutomationRule.objects.filter(name="Garbled").exists()
    if has_nul(body) and response.status_code == 400:
        return  # refused before the view
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors
    if message:
        assert any(m.startswith(message) for m in error_messages(errors)), error_messages(errors)


@pytest.mark.parametrize("case", sorted(GARBLED))
def test_the_rule_form_itself_reads_garbled_actions_as_an_error(world, case):
    actions, change, message = GARBLED[case]
    form = RULE_PANELS.bind_to_model(AutomationRule).get_form_class()(
        data=garbled_body(actions, change), instance=AutomationRule(), for_user=world.admin,
    )
    assert not form.is_valid()
    if message:
        messages = error_messages(form.errors)
        assert any(m.startswith(message) for m in messages), messages
    str(form["actions"])  # the form can be shown again


@pytest.mark.parametrize("body", [{}, {"name": "Garbled"}, {"name": "Garbled", "actions": "x"}])
def test_a_truncated_rule_body_is_refused(client, world, body):
    count = AutomationRule.objects.count()
    response = as_user(client, world.admin).post(reverse(CREATE), body)
    assert response.status_code == 200
    messages = error_messages(response.context["form"].errors)
    assert any(m.startswith(UNREADABLE) for m in messages), messages
    assert AutomationRule.objects.count() == count


def test_a_garbled_edit_leaves_the_rule_as_it_was(client, world):
    rule = AutomationRule.objects.create(
        name="Steady", trigger="enrolled",
        actions=[{"type": "flag_at_risk", "value": {"reason": "kept"}}],
    )
    body = garbled_body([notify()], without("actions-count"))
    response = as_user(client, world.admin).post(reverse(EDIT, args=[rule.pk]), body)
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.name == "Steady"
    assert [(a.block_type, dict(a.value)) for a in rule.actions] == [
        ("flag_at_risk", {"reason": "kept"})
    ]


def test_a_well_formed_rule_is_still_saved(client, world):
    body = form_data(actions=[notify(), add_form()], name="Fine")
    # As the editor sends them: new blocks with a UUID, or without an id yet.
    body["actions-0-id"] = "0b8e3c2a-53f1-4a8e-9d61-2f0c6b1e7a90"
    body["actions-1-id"] = ""
    response = as_user(client, world.admin).post(reverse(CREATE), body)
    assert response.status_code == 302, error_messages(response.context["form"].errors)
    made = AutomationRule.objects.get(name="Fine")
    assert [a.block_type for a in made.actions] == ["notify", "add_activity"]
    assert made.actions[0].id == "0b8e3c2a-53f1-4a8e-9d61-2f0c6b1e7a90"
    assert made.actions[1].id
