"""People's display names: how the package names a person anywhere (admin, client pages,
emails, calendar files, exports, reports).

Wagtail's own rule, so a coach reads the same name in Wagtail's pages and in ours: the full
name if there is one, else the username; an empty string for no one.
"""

from wagtail.admin.utils import get_user_display_name


def display_name(user):
    """``user``'s name as people read it: "Ada Lovelace", else "ada"; "" for None."""
    return get_user_display_name(user)
