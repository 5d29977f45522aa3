"""Amounts: major units for people, Stripe's smallest currency unit on the wire."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Stripe's zero-decimal and three-decimal currencies (https://docs.stripe.com/currencies).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥"}


def exponent(currency):
    currency = (currency or "").lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount, currency):
    """``Decimal("49.90"), "eur"`` → ``4990``. Refuses amounts the currency cannot express."""
    places = exponent(currency)
    scaled = Decimal(amount) * (Decimal(10) ** places)
    minor = scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if minor != scaled:
        raise ValueError(
            _("%(currency)s amounts cannot have more than %(places)d decimals.")
            % {"currency": currency.upper(), "places": places}
        )
    if places == 3 and minor % 10:
        raise ValueError(_("Stripe needs the last decimal of this currency to be zero."))
    return int(minor)


def format_amount(amount, currency):
    """``€49.00``, ``¥5000``, ``120.00 CHF``, in the active locale's number format."""
    places = exponent(currency)
    number = number_format(Decimal(amount), decimal_pos=places, use_l10n=True)
    symbol = SYMBOLS.get((currency or "").lower())
    return f"{symbol}{number}" if symbol else f"{number} {(currency or '').upper()}"


INTERVALS = {
    "day": (lambda n: ngettext("day", "%(n)d days", n)),
    "week": (lambda n: ngettext("week", "%(n)d weeks", n)),
    "month": (lambda n: ngettext("month", "%(n)d months", n)),
    "year": (lambda n: ngettext("year", "%(n)d years", n)),
}


def describe_interval(interval, count):
    text = INTERVALS.get(interval)
    if text is None:
        return ""
    return text(count or 1) % {"n": count or 1}


def describe_price(price, installments=None):
    """One line for a price or an order: "Free", "€49.00", "€19.00 / month", "3 × €100.00 /
    month". Works on anything with the price fields."""
    from ..models.offers import PaymentModel

    if price.payment_model == PaymentModel.FREE:
        return _("Free")
    amount = format_amount(price.amount, price.currency)
    every = describe_interval(price.interval, price.interval_count)
    if price.payment_model == PaymentModel.SUBSCRIPTION:
        return _("%(amount)s / %(every)s") % {"amount": amount, "every": every}
    if price.payment_model == PaymentModel.INSTALLMENTS:
        count = installments or getattr(price, "installments", None) or 0
        return _("%(count)d × %(amount)s / %(every)s") % {
            "count": count, "amount": amount, "every": every,
        }
    return amount
