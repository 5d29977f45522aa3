"""The Coaching menu's entries of this area that are not modeladmin lists: payouts and
"My calendar"."""

from .. import my_calendar, payouts


def menu_items(first_order=100):
    """Menu items for the Coaching menu that are not modeladmin lists: payouts and "My
    calendar", each shown only to whoever may open it."""
    return [payouts.payouts_menu_item(first_order), my_calendar.my_calendar_menu_item(
        first_order + 1
    )]
