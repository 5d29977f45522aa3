"""Reading rendered pages in tests."""
import re


def mentions(html, phrase):
    """Whether ``phrase`` appears in ``html`` as words of its own.

    A short name such as "Olly" turns up by chance inside a random token (a CSRF token is 64
    letters and digits), so checks that a page does *not* name someone look for whole words.
    """
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(phrase)}(?![A-Za-z0-9])", html) is not None
