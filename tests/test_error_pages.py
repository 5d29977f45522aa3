"""The sandbox's 404 and 500 pages, as `rundemo` (`make demo`) serves them: the site's own,
matching the portal, never Django's debug pages with their list of URLs."""

import pytest
from django.test import Client
from django.urls import path, reverse

from sandbox import urls as sandbox_urls
from sandbox.home.management.commands.rundemo import serve_as_visitors_see_it
from wagtail_coaching.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken), *sandbox_urls.urlpatterns]


@pytest.fixture
def demo(settings):
    """The sandbox's settings as the demo server leaves them (DEBUG turned off)."""
    settings.DEBUG = True
    serve_as_visitors_see_it()
    assert settings.DEBUG is False
    return settings


@pytest.mark.parametrize("url", ["/no-such-page/", "/coaching/activity/not-a-step/"])
def test_a_missing_page_is_the_friendly_page_without_a_url_list(client, demo, url):
    response = client.get(url)
    assert response.status_code == 404
    html = response.text
    assert "<h1>Page not found</h1>" in html
    assert "Using the URLconf" not in html and "sandbox.urls" not in html
    assert 'class="coaching-site-header"' in html and "coaching.css" in html


def test_a_signed_in_client_gets_the_portal_header_on_the_404_page(client, demo):
    client.force_login(UserFactory(username="lost-client"))
    html = client.get("/coaching/no-such-page/").text
    assert '<nav class="coaching-portal-nav"' in html
    assert f'href="{reverse("wagtail_coaching:dashboard")}"' in html
    assert "Go to my coaching" in html


def test_a_failure_renders_the_500_page(demo):
    demo.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html and "coaching.css" in html
    assert "RuntimeError" not in html and "Traceback" not in html


def test_files_shared_in_conversations_are_not_served_as_media():
    from django.urls import Resolver404, resolve
    from django.views.static import serve

    def view_of(url):
        try:
            return resolve(url).func
        except Resolver404:
            return None

    assert view_of("/media/images/coach.jpg") is serve
    assert view_of("/media/coaching/messages/0123abcd/file") is not serve
