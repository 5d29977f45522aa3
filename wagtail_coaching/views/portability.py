"""A client's own data: a page offering the download, and the download (JSON or CSV zip).

Only ever the signed-in user's data; the service in ``wagtail_coaching.portability`` gathers
and formats it.
"""

from django.http import HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from ..portability import as_csv_zip, as_json, client_data
from .client import ClientViewMixin

FORMATS = {
    "json": ("application/json", "json", as_json),
    "csv": ("application/zip", "zip", as_csv_zip),
}


def data_download(user, fmt, *, basename):
    """The download of ``user``'s data in ``fmt`` (``json`` or ``csv``), or a 400."""
    if fmt not in FORMATS:
        return HttpResponseBadRequest(_("Choose the format: json or csv."))
    content_type, extension, render = FORMATS[fmt]
    response = HttpResponse(render(client_data(user)), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{basename}-{stamp}.{extension}"'
    response["Cache-Control"] = "no-store, private"
    return response


class MyDataView(ClientViewMixin, View):
    template_name = "wagtail_coaching/my_data.html"

    def get(self, request):
        return TemplateResponse(request, self.template_name, {})


class MyDataDownloadView(ClientViewMixin, View):
    def get(self, request):
        fmt = request.GET.get("format", "json")
        return data_download(request.user, fmt, basename="my-coaching-data")
