"""factory_boy factories for wagtail-coaching's models."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail.models import Page, Site

from ..models import Cohort, Company, EngagementPage
from . import programs


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("password")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")


def site_root():
    """The default site's root page; made when an emptied test database has none."""
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if site is not None:
        return site.root_page
    root = Page.get_first_root_node()
    if root is None:
        from django.conf import settings
        from wagtail.coreutils import get_supported_content_language_variant
        from wagtail.models import Locale

        Locale.objects.get_or_create(
            language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
        )
        root = Page.add_root(instance=Page(title="Root", slug="root", live=True))
    home = root.add_child(instance=Page(title="Home", slug="home", live=True))
    Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
    return home


def make_engagement(program=None, title="Leadership Foundations", parent=None, publish=True,
                    page_class=EngagementPage, **fields):
    """Create an engagement page under the site root; publish it through a revision.

    ``page_class`` is ``EngagementPage`` or a site's own subclass of it (``fields`` may then
    hold the subclass's fields too)."""
    parent = parent or site_root()
    page = page_class(
        title=title,
        summary=fields.pop("summary", "Grow as a leader"),
        intro=fields.pop("intro", "<p>A public introduction.</p>"),
        program=program if program is not None else programs.sized_program(2, 3),
        live=False,
        **fields,
    )
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
    page.refresh_from_db()
    return page


def publish_program(page, program):
    """Publish a new revision of ``page`` with ``program`` (fires page_published).

    The revision is made from the page's own class, so a subclass keeps its fields."""
    page = EngagementPage.objects.get(pk=page.pk).specific
    page.program = program
    page.save_revision().publish()
    page.refresh_from_db()
    return page


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")
    company = factory.SubFactory(CompanyFactory)
    start_date = factory.LazyFunction(lambda: timezone.localdate())
