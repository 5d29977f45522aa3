"""Reading rendered pages in tests."""
import re


def mentions(html, phrase):
    """Whether ``phrase`` appears in ``html`` at the start of a word.

    A short name such as "Olly" turns up by chance inside a random token (a CSRF token is 64
    letters and digits), so checks that a page does *not* name someone look for it where a
    word starts. "Score" still finds "Scores".
    """
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(phrase)}", html) is not None
