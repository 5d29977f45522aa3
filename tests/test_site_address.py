"""Links in emails use the site's address and emails its sender, whatever the host set."""

import pytest
from django.core import mail
from django.urls import reverse
from wagtail.models import Page, Site

from wagtail_coaching.admin.group_sessions.text import invite_url
from wagtail_coaching.checks import sender_warnings
from wagtail_coaching.notifications.outbox import Message, queue_notifications
from wagtail_coaching.testing.factories import UserFactory
from wagtail_coaching.testing.jobs import run_jobs
from wagtail_coaching.utils.urls import LAST_RESORT_BASE_URL, absolute_url, site_base_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def unset(settings):
    """Neither the package's BASE_URL nor Wagtail's WAGTAILADMIN_BASE_URL."""
    settings.WAGTAIL_COACHING = {}
    del settings.WAGTAILADMIN_BASE_URL
    return settings


def default_site(hostname, port):
    site = Site.objects.filter(is_default_site=True).first() or Site(
        root_page=Page.get_first_root_node(), is_default_site=True
    )
    site.hostname, site.port = hostname, port
    site.save()
    return site


def test_the_package_setting_comes_first(settings):
    settings.WAGTAILADMIN_BASE_URL = "https://cms.example.com"
    settings.WAGTAIL_COACHING = {"BASE_URL": "https://coaching.example.com/"}
    assert site_base_url() == "https://coaching.example.com"


def test_then_wagtails_admin_base_url(settings):
    settings.WAGTAIL_COACHING = {}
    settings.WAGTAILADMIN_BASE_URL = "https://cms.example.com/"
    assert site_base_url() == "https://cms.example.com"


@pytest.mark.parametrize(
    "port, expected",
    [(443, "https://coaching.example.com"), (80, "http://coaching.example.com"),
     (8080, "http://coaching.example.com:8080")],
)
def test_then_the_default_wagtail_site(unset, port, expected):
    default_site("coaching.example.com", port)
    assert site_base_url() == expected


def test_else_the_development_server(unset):
    Site.objects.all().delete()
    assert site_base_url() == LAST_RESORT_BASE_URL == "http://127.0.0.1:8000"


def test_invite_links_use_it(unset):
    from wagtail_coaching.models import GroupSession

    default_site("coaching.example.com", 443)
    session = GroupSession(invite_token="abc")
    path = reverse("wagtail_coaching:join", args=["abc"])
    assert invite_url(session) == absolute_url(path) == f"https://coaching.example.com{path}"


def welcome(user):
    return Message(
        recipient_id=user.pk, kind="welcome", dedup_key=f"welcome:{user.pk}",
        payload={"engagement_title": "Stress Reset", "dashboard_path": "/coaching/"},
    )


def test_an_email_links_to_the_site_and_comes_from_the_default_sender(unset):
    unset.DEFAULT_FROM_EMAIL = "hello@coaching.example.com"
    default_site("coaching.example.com", 443)
    user = UserFactory()
    with run_jobs():
        queue_notifications([welcome(user)])
    (email,) = mail.outbox
    assert "https://coaching.example.com/coaching/" in email.body
    assert "127.0.0.1" not in email.body
    assert email.from_email == "hello@coaching.example.com"
    assert email.extra_headers["Message-ID"].endswith("@coaching.example.com>")


def test_from_email_overrides_the_default_sender(settings):
    settings.DEFAULT_FROM_EMAIL = "hello@coaching.example.com"
    settings.WAGTAIL_COACHING = {"FROM_EMAIL": "Coaching <coaching@example.com>"}
    user = UserFactory()
    with run_jobs():
        queue_notifications([welcome(user)])
    assert mail.outbox[0].from_email == "Coaching <coaching@example.com>"


def test_djangos_placeholder_sender_is_reported(settings):
    settings.WAGTAIL_COACHING = {}
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    assert {w.id for w in sender_warnings()} == {"wagtail_coaching.W003"}
    settings.DEFAULT_FROM_EMAIL = "hello@coaching.example.com"
    assert sender_warnings() == []
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    settings.WAGTAIL_COACHING = {"FROM_EMAIL": "coaching@example.com"}
    assert sender_warnings() == []
