"""A host with accounts of its own: the sandbox's URLs without ``wagtail_coaching.accounts``."""

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("coaching/", include("wagtail_coaching.urls")),
    path("", include(wagtail_urls)),
]
