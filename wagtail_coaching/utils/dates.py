"""Dates and times written into sentences."""


def before_full_stop(text):
    """``text`` (a formatted date or time) where a sentence's own full stop follows it:
    without a final full stop of its own, so "10 a.m." + "." reads "10 a.m." and not
    "10 a.m.." (English times end in one, and so do dates in several languages)."""
    text = "" if text is None else str(text)
    return text[:-1] if text.endswith(".") else text
