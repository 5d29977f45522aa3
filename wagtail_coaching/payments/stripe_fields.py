"""Reading a Stripe object's fields with their types checked.

An event's object arrives as plain JSON: ``StripeFields`` reads its ids, short strings,
amounts, flags, Unix times, nested objects and lists, each checked for its type and range. A
field that is absent or null reads as empty; a field of the wrong type raises
``UnprocessableEvent``, so that such an event changes nothing and is not retried.
"""

import datetime

from .errors import UnprocessableEvent

# Unix times an event can mean: the epoch to the year 3000 (Python's datetimes end at 9999,
# and showing one near that end in a local time zone overflows).
LATEST_TIMESTAMP = 32_503_680_000
# Above any amount Stripe charges (eight digits in the smallest unit), far below any limit.
MAX_AMOUNT = 10**12
# Length of Stripe ids and short strings we store (the widest of the Order's Stripe columns).
MAX_ID_LENGTH = 255


def timestamp_or_none(value):
    """``value`` (a Unix time) as an aware datetime, or None unless it is a plausible one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 0 <= value <= LATEST_TIMESTAMP:
        return None
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)


def shown(value, limit=60):
    """``value`` for an error message: ASCII only (no NUL reaches a log or a column), short."""
    text = ascii(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


class StripeFields:
    """Typed reads of one object in an event.

    A field that is absent or null reads as empty. Any other value of the wrong type raises
    ``UnprocessableEvent`` naming where it was: no retry can make it right.
    """

    def __init__(self, obj, where="object"):
        if obj is None:
            obj = {}
        if not isinstance(obj, dict):
            raise UnprocessableEvent(f"{where} is not an object: {shown(obj)}")
        self.obj = obj
        self.where = where

    def _wrong(self, key, expected):
        return UnprocessableEvent(
            f"{self.where}.{key} is not {expected}: {shown(self.obj.get(key))}"
        )

    def text(self, key, max_length=MAX_ID_LENGTH):
        value = self.obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, str) or len(value) > max_length:
            raise self._wrong(key, f"a string of at most {max_length} characters")
        return value

    def id(self, key):
        """A Stripe id, or the id of the object when Stripe expanded it."""
        if isinstance(self.obj.get(key), dict):
            return self.child(key).text("id")
        return self.text(key)

    def amount(self, key):
        """An amount in the currency's smallest unit, or None."""
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
            raise self._wrong(key, "an amount in the currency's smallest unit")
        return value

    def flag(self, key):
        value = self.obj.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def timestamp(self, key):
        value = self.obj.get(key)
        if value is None:
            return None
        moment = timestamp_or_none(value)
        if moment is None:
            raise self._wrong(key, "a Unix time")
        return moment

    def child(self, key):
        return StripeFields(self.obj.get(key), f"{self.where}.{key}")

    def items(self, key):
        """The objects of the Stripe list (``{"object": "list", "data": [...]}``) at ``key``."""
        listing = self.child(key)
        data = listing.obj.get("data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise listing._wrong("data", "a list")
        return [StripeFields(item, f"{listing.where}.data[{i}]") for i, item in enumerate(data)]
