"""The client card from Wagtail's users list: a "Client card" item in each client's "More"
menu (the ``register_user_listing_buttons`` hook), for viewers who may open that card.

Wagtail asks the hook row by row and does not hand it the page of users, so the cards the
viewer may open are asked once per request (``ClientCards`` over every client they may see,
kept on the request's user object) and each row only looks its client up.
"""

from django.utils.translation import gettext_lazy
from wagtail.admin.widgets.button import Button

from .display import ClientCards

# Where the viewer's cards are kept for the rest of the request.
CARDS_ATTRIBUTE = "_coaching_client_cards"


def _cards_of(viewer):
    cards = getattr(viewer, CARDS_ATTRIBUTE, None)
    if cards is None:
        cards = ClientCards(viewer)
        setattr(viewer, CARDS_ATTRIBUTE, cards)
    return cards


def client_card_buttons(user, request_user):
    """``register_user_listing_buttons`` hook: the card of ``user`` for ``request_user``."""
    url = _cards_of(request_user).url(user)
    if not url:
        return []
    return [
        Button(
            gettext_lazy("Client card"), url=url, icon_name="user",
            attrs={"data-coaching-card": ""}, priority=15,
        )
    ]
