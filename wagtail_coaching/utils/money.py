"""Money: amounts in major units for people, in Stripe's smallest currency unit on the wire.

Amounts are written by Babel in the active language's conventions (``€49.00`` in English,
``49,00 €`` in German, ``CHF 120.00`` in Swiss German), with as many decimals as the amount
is charged with, so what a buyer reads is what they pay.
"""

import copy
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext as _

# Stripe's zero-decimal and three-decimal currencies (https://docs.stripe.com/currencies).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def exponent(currency):
    """How many decimals ``currency`` is charged with: 2, or 0 (JPY) or 3 (KWD)."""
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


def active_locale():
    """Babel's locale for the active language (else the site's, else English)."""
    for language in (get_language(), settings.LANGUAGE_CODE):
        if not language:
            continue
        try:
            return Locale.parse(to_locale(language))
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def format_amount(amount, currency, locale=None):
    """``€49.00``, ``¥5,000``, ``CHF120.00``: ``amount`` of ``currency`` (a code in any case)
    as the active language writes it, or ``locale``'s (a Babel locale or its name)."""
    locale = Locale.parse(locale) if locale is not None else active_locale()
    code = (currency or "").upper()
    places = exponent(code)
    # The locale's own currency pattern, with the decimals the amount is charged with
    # (Babel's would be ISO 4217's, which Stripe does not always follow). A copy: Babel
    # caches the pattern on the locale.
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return pattern.apply(Decimal(amount), locale, currency=code, currency_digits=False)


INTERVALS = {
    "day": (lambda n: ngettext("day", "%(n)d days", n)),
    "week": (lambda n: ngettext("week", "%(n)d weeks", n)),
    "month": (lambda n: ngettext("month", "%(n)d months", n)),
    "year": (lambda n: ngettext("year", "%(n)d years", n)),
}


def describe_interval(interval, count):
    """"month", "3 months": how often a recurring price is charged."""
    text = INTERVALS.get(interval)
    if text is None:
        return ""
    return text(count or 1) % {"n": count or 1}
