"""The optional accounts pages (``wagtail_coaching.accounts``): sign in and out, sign up,
password reset and change, the profile; and a host that leaves them out."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from wagtail.users.models import UserProfile

from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.utils.time_zones import user_time_zone

pytestmark = pytest.mark.django_db

PASSWORD = "password"  # UserFactory's
SIGNUP = {
    "first_name": "Robin", "last_name": "Tester", "email": "robin@example.com",
    "username": "robin", "password1": "a-long-passphrase", "password2": "a-long-passphrase",
}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """The attempts counted in the cache start from zero in every test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def cara(db):
    return UserFactory(username="cara", email="cara@example.com", first_name="Cara")


def signed_in_user(client):
    return client.session.get("_auth_user_id")


# -- Every page renders ---------------------------------------------------------------------------

ANONYMOUS_PAGES = ["login", "signup", "password_reset", "password_reset_done",
                   "password_reset_complete"]
SIGNED_IN_PAGES = ["account_profile", "password_change", "password_change_done"]


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_visitor_pages_render(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200, name
    html = response.content.decode()
    assert "wagtail_coaching/coaching.css" in html  # the package's client base template
    assert "coaching-accounts" in html


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_pages_render_and_ask_visitors_to_sign_in(client, cara, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    client.force_login(cara)
    response = client.get(reverse(name))
    assert response.status_code == 200, name
    assert "coaching-accounts" in response.content.decode()


SIGN_UP_LINK = re.compile(r'<a href="([^"]*)">Create an account</a>')


@pytest.mark.parametrize(("signup_setting", "expected"), [
    (None, "/accounts/signup/?next=%2Fcoaching%2Fsessions%2F"),  # the default: these pages'
    ("/join/?plan=a", "/join/?plan=a&next=%2Fcoaching%2Fsessions%2F"),
    ("", None),  # no sign-up link anywhere
])
def test_sign_in_page_links_to_the_same_sign_up_as_the_checkout(
    client, settings, signup_setting, expected
):
    from wagtail_coaching.utils.urls import signup_url

    coaching = {k: v for k, v in settings.WAGTAIL_COACHING.items() if k != "SIGNUP_URL"}
    if signup_setting is not None:
        coaching["SIGNUP_URL"] = signup_setting
    settings.WAGTAIL_COACHING = coaching
    html = client.get("/accounts/login/?next=/coaching/sessions/").content.decode()
    found = SIGN_UP_LINK.findall(html)
    assert found == ([expected.replace("&", "&amp;")] if expected else [])
    assert signup_url() == (expected or "").partition("next=")[0].rstrip("?&")


def test_urls_are_where_django_expects_them():
    assert reverse("login") == "/accounts/login/"
    assert reverse("account_profile") == "/accounts/profile/"  # Django's LOGIN_REDIRECT_URL


# -- Sign up --------------------------------------------------------------------------------------

def test_sign_up_creates_a_client_signs_them_in_and_goes_to_the_dashboard(client):
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtail_coaching:dashboard")
    user = get_user_model().objects.get(username="robin")
    assert (user.first_name, user.last_name, user.email) == ("Robin", "Tester",
                                                              "robin@example.com")
    assert not user.is_staff and not user.is_superuser
    assert not user.groups.exists()
    assert user.check_password("a-long-passphrase")
    assert int(signed_in_user(client)) == user.pk


def test_sign_up_goes_on_to_next_on_this_site_only(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "next": "/coaching/sessions/"})
    assert response["Location"] == "/coaching/sessions/"
    client.logout()
    response = client.post("/accounts/signup/", {
        **SIGNUP, "username": "robin2", "email": "robin2@example.com",
        "next": "https://evil.example/",
    })
    assert response["Location"] == reverse("wagtail_coaching:dashboard")


def test_sign_up_cannot_make_staff(client):
    client.post("/accounts/signup/", {**SIGNUP, "is_staff": "on", "is_superuser": "on"})
    user = get_user_model().objects.get(username="robin")
    assert not user.is_staff and not user.is_superuser


@pytest.mark.parametrize("taken", [
    {"email": "ROBIN@example.com", "username": "first"},
    {"email": "other@example.com", "username": "Robin"},
])
def test_sign_up_refuses_a_taken_email_or_username(client, taken):
    UserFactory(**taken)
    response = client.post("/accounts/signup/", SIGNUP)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please check the form" in html
    assert ("An account with this email exists already" in html
            or "A user with that username already exists" in html)
    assert get_user_model().objects.count() == 1
    assert signed_in_user(client) is None


def test_signed_in_people_skip_the_sign_up_page(client, cara):
    client.force_login(cara)
    response = client.get("/accounts/signup/?next=/coaching/sessions/")
    assert response["Location"] == "/coaching/sessions/"


def test_sign_ups_from_one_address_are_limited(client, settings):
    settings.WAGTAIL_COACHING = {
        **settings.WAGTAIL_COACHING, "ACCOUNT_RATE_LIMITS": {"signup": (2, 3600)},
    }
    for n in range(2):
        client.post("/accounts/signup/", {
            **SIGNUP, "username": f"r{n}", "email": f"r{n}@example.com",
        })
        client.logout()
    response = client.post("/accounts/signup/", {
        **SIGNUP, "username": "r3", "email": "r3@example.com",
    })
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert not get_user_model().objects.filter(username="r3").exists()


# -- Sign in and out ------------------------------------------------------------------------------

def test_sign_in_goes_to_next(client, cara):
    response = client.post("/accounts/login/", {
        "username": "cara", "password": PASSWORD, "next": "/coaching/sessions/",
    })
    assert response.status_code == 302
    assert response["Location"] == "/coaching/sessions/"
    assert int(signed_in_user(client)) == cara.pk


def test_sign_in_takes_the_email_too(client, cara):
    response = client.post("/accounts/login/", {"username": "CARA@example.com",
                                                "password": PASSWORD})
    assert response.status_code == 302
    assert int(signed_in_user(client)) == cara.pk


def test_wrong_password_is_a_form_error(client, cara):
    response = client.post("/accounts/login/", {"username": "cara", "password": "wrong"})
    assert response.status_code == 200
    assert "We could not sign you in" in response.content.decode()
    assert signed_in_user(client) is None


def test_failed_sign_ins_are_limited(client, cara, settings):
    settings.WAGTAIL_COACHING = {
        **settings.WAGTAIL_COACHING, "ACCOUNT_RATE_LIMITS": {"login": (3, 900)},
    }
    for _ in range(3):
        client.post("/accounts/login/", {"username": "cara", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "cara", "password": PASSWORD})
    assert response.status_code == 429
    assert signed_in_user(client) is None


def test_sign_out_is_by_post_only(client, cara):
    client.force_login(cara)
    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_user(client) is not None
    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    assert signed_in_user(client) is None


def test_the_site_header_links_the_profile_and_signs_out_by_post(client, cara):
    client.force_login(cara)
    html = client.get("/accounts/profile/").content.decode()
    assert 'href="/accounts/profile/" aria-current="page"' in html
    assert re.search(r'<form [^>]*method="post" action="/accounts/logout/"', html)


# -- Password reset and change --------------------------------------------------------------------

def test_password_reset_sends_one_email_on_the_sites_address_and_the_link_works(
    client, cara, settings
):
    settings.WAGTAIL_COACHING = {**settings.WAGTAIL_COACHING,
                                 "BASE_URL": "https://coaching.example.org"}
    # The host the request names is not where the link points.
    response = client.post("/accounts/password/reset/", {"email": "cara@example.com"},
                           HTTP_HOST="testserver")
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["cara@example.com"]
    (link,) = re.findall(r"https?://\S+", message.body)
    assert link.startswith("https://coaching.example.org/accounts/password/reset/")
    assert "testserver" not in message.body
    assert "\n" not in message.subject

    path = link.removeprefix("https://coaching.example.org")
    response = client.get(path, follow=True)  # Django moves the token into the session
    assert response.status_code == 200
    assert "Choose a new password" in response.content.decode()
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "another-passphrase",
                                      "new_password2": "another-passphrase"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    cara.refresh_from_db()
    assert cara.check_password("another-passphrase")
    # Used once: the link does not work again.
    response = client.get(path, follow=True)
    assert "This link does not work any more" in response.content.decode()


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_password_change(client, cara):
    client.force_login(cara)
    response = client.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "another-passphrase",
        "new_password2": "another-passphrase",
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    cara.refresh_from_db()
    assert cara.check_password("another-passphrase")
    assert signed_in_user(client) is not None  # still signed in


def test_password_change_needs_the_old_password(client, cara):
    client.force_login(cara)
    response = client.post("/accounts/password/", {
        "old_password": "wrong", "new_password1": "another-passphrase",
        "new_password2": "another-passphrase",
    })
    assert response.status_code == 200
    assert "Please check the form" in response.content.decode()
    cara.refresh_from_db()
    assert cara.check_password(PASSWORD)


# -- The profile ----------------------------------------------------------------------------------

def test_profile_saves_name_and_time_zone_where_times_are_read(client, cara):
    client.force_login(cara)
    response = client.post("/accounts/profile/", {
        "first_name": "Carla", "last_name": "Client", "time_zone": "Asia/Tokyo",
    })
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    cara = get_user_model().objects.get(pk=cara.pk)
    assert (cara.first_name, cara.last_name) == ("Carla", "Client")
    assert UserProfile.objects.get(user=cara).current_time_zone == "Asia/Tokyo"
    assert user_time_zone(cara).key == "Asia/Tokyo"
    html = client.get("/accounts/profile/").content.decode()
    assert "Your profile is saved." in html
    assert '<option value="Asia/Tokyo" selected>' in html


def test_profile_can_go_back_to_the_coaching_default_zone(client, cara):
    UserProfile.objects.create(user=cara, current_time_zone="Asia/Tokyo")
    client.force_login(cara)
    response = client.post("/accounts/profile/", {"first_name": "Cara", "last_name": "",
                                                  "time_zone": ""})
    assert response.status_code == 302
    assert UserProfile.objects.get(user=cara).current_time_zone == ""


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "europe/paris", "x" * 500])
def test_profile_refuses_a_bad_zone(client, cara, zone):
    client.force_login(cara)
    response = client.post("/accounts/profile/", {"first_name": "Cara", "last_name": "",
                                                  "time_zone": zone})
    assert response.status_code == 200
    assert "This is not a time zone" in response.content.decode()
    assert not UserProfile.objects.filter(user=cara).exclude(current_time_zone="").exists()


def test_profile_links_the_message_settings(client, cara):
    client.force_login(cara)
    html = client.get("/accounts/profile/").content.decode()
    assert f'href="{reverse("wagtail_coaching:notification_settings")}"' in html
    assert f'href="{reverse("password_change")}"' in html


# -- Bad input: a form error or a 400, never a 5xx ------------------------------------------------

FORMS = [
    ("/accounts/login/", {"username": "cara", "password": PASSWORD}, False),
    ("/accounts/signup/", SIGNUP, False),
    ("/accounts/password/reset/", {"email": "cara@example.com"}, False),
    ("/accounts/profile/", {"first_name": "Cara", "last_name": "C", "time_zone": "Europe/Paris"},
     True),
    ("/accounts/password/", {"old_password": PASSWORD, "new_password1": "x-long-passphrase",
                             "new_password2": "x-long-passphrase"}, True),
]


@pytest.mark.parametrize("url,data,signed_in", FORMS)
def test_nul_bytes_and_truncated_posts_are_refused_without_an_error(
    client, cara, url, data, signed_in
):
    if signed_in:
        client.force_login(cara)
    nul = {k: f"{v}\x00" for k, v in data.items()}
    assert client.post(url, nul).status_code == 400
    assert client.get(url + "?next=%00").status_code == 400
    keys = sorted(data)
    for body in ({}, {k: data[k] for k in keys[: len(keys) // 2]}):
        response = client.post(url, body)
        assert response.status_code == 200, (url, body, response.status_code)
        assert "Please check the form" in response.content.decode() or (
            "We could not sign you in" in response.content.decode()
        )
    cara.refresh_from_db()
    assert cara.check_password(PASSWORD)
    assert get_user_model().objects.count() == 1


# -- A host with accounts of its own --------------------------------------------------------------

def test_a_host_without_these_urls_is_unaffected(client, cara, settings):
    settings.ROOT_URLCONF = "tests.urls_without_accounts"
    from wagtail_coaching.payments.access import signup_url

    assert client.get("/accounts/login/").status_code == 404
    response = client.get("/coaching/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)
    client.force_login(cara)
    response = client.get("/coaching/notifications/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/accounts/" not in html  # no profile link, no sign-out form to a missing URL
    assert signup_url() == ""


def test_a_truncated_profile_post_changes_nothing(client, cara):
    UserProfile.objects.create(user=cara, current_time_zone="Asia/Tokyo")
    client.force_login(cara)
    response = client.post("/accounts/profile/", {"first_name": "Cara", "last_name": ""})
    assert response.status_code == 200
    assert "The form arrived incomplete" in response.content.decode()
    assert UserProfile.objects.get(user=cara).current_time_zone == "Asia/Tokyo"
