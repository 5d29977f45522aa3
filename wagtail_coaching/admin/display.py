"""How the coaching admin names people, shows a time and links to the client card."""

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from ..permissions import may_use_admin, visible
from ..utils.admin_pages import card_url
from ..utils.admin_pages import in_viewer_zone as in_viewer_zone
from ..utils.people import display_name as person  # the admin's short name for it


def card_link(enrollment, text=None):
    """A link to the client card; the admin's script opens it in the slide-out panel."""
    return format_html(
        '<a href="{}" data-coaching-card>{}</a>',
        card_url(enrollment),
        text or person(enrollment.client),
    )


class ClientCards:
    """The client cards ``viewer`` may open among a list's clients, asked once for the whole
    list: one query, however many rows (``client_name`` then names each row).

    ``clients`` are users or user ids; ``None`` means every client the viewer may see (for a
    list whose rows are not known in advance, such as Wagtail's users index). A client opens
    on their latest enrollment the viewer may see; the card shows the others too. Only the
    permission layer decides: the enrollments come from ``visible(viewer,
    "view_enrollment")``, and only for someone who may use the coaching admin.
    """

    def __init__(self, viewer, clients=None):
        self._cards = {}
        if not may_use_admin(viewer):
            return
        enrollments = visible(viewer, "view_enrollment").order_by()
        if clients is not None:
            ids = {getattr(c, "pk", c) for c in clients} - {None}
            if not ids:
                return
            enrollments = enrollments.filter(client_id__in=ids)
        rows = enrollments.order_by("client_id", "-starts_at", "-pk").values_list(
            "client_id", "public_id"
        )
        for client_id, public_id in rows:
            self._cards.setdefault(client_id, public_id)

    def url(self, client):
        """The card's address for ``client``, or "" where the viewer may not open it."""
        public_id = self._cards.get(getattr(client, "pk", client))
        if public_id is None:
            return ""
        return card_url(_CardKey(public_id))

    def __contains__(self, client):
        return getattr(client, "pk", client) in self._cards


class _CardKey:
    """What ``card_url`` reads of an enrollment, without loading it."""

    def __init__(self, public_id):
        self.public_id = public_id


def client_name(client, cards, *, with_email=False):
    """A client as every admin list names them: their display name (and email, where
    asked), linked to their card when ``cards`` (a ``ClientCards``) lets the viewer open
    it; the plain name otherwise. "" for no one."""
    if client is None:
        return ""
    name = person(client)
    email = getattr(client, "email", "") if with_email else ""
    url = cards.url(client) if cards is not None else ""
    if url:
        if email:
            return format_html(
                '<a href="{}" data-coaching-card>{}</a> <span class="coaching-email">{}</span>',
                url, name, email,
            )
        return format_html('<a href="{}" data-coaching-card>{}</a>', url, name)
    if email:
        return format_html('{} <span class="coaching-email">{}</span>', name, email)
    return format_html("{}", name)


def local_time(value):
    """A time in the active zone (the viewer's: see ``in_viewer_zone``), with the zone's
    abbreviation so nobody wonders which zone it is."""
    local = timezone.localtime(value)
    return f"{date_format(local, 'D j M Y, H:i')} {local.tzname()}"
