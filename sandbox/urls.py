import re

from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("wagtail_coaching.accounts.urls")),
    path("coaching/", include("wagtail_coaching.urls")),
    # Demo payments (sandbox/demo_payments): answers 404 once real Stripe keys are set.
    path("demo-payments/", include("sandbox.demo_payments.urls")),
]
# Uploaded images, served by Django in the sandbox whatever DEBUG says (`rundemo` serves
# with DEBUG off; a production site has its web server serve them). Files shared in
# conversations are kept in the same storage here but never served from it: the package
# serves each one to the conversation's members only.
MEDIA_PREFIX = re.escape(settings.MEDIA_URL.lstrip("/"))
urlpatterns += [
    re_path(
        rf"^{MEDIA_PREFIX}(?!coaching/messages/)(?P<path>.*)$", serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
]
urlpatterns.append(path("", include(wagtail_urls)))
