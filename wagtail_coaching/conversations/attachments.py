"""Which files may be shared in a conversation: a size limit and a type allow-list, both
settings (``MESSAGE_ATTACHMENT_MAX_BYTES``, ``MESSAGE_ATTACHMENT_TYPES``).

A file's type is judged by its extension, and it is served with the content type the
allow-list gives that extension, never with one the uploader's browser claimed.
"""

import os

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ..conf import coaching_settings
from .errors import AttachmentRefused

# The longest file name kept (longer ones are shortened, keeping the extension).
NAME_MAX_LENGTH = 200


def allowed_types():
    """{extension: content type} of the files one may share (a type set to None in the
    setting is refused)."""
    return {
        ext.lower(): content_type
        for ext, content_type in coaching_settings.MESSAGE_ATTACHMENT_TYPES.items()
        if content_type
    }


def clean_name(name):
    """The name a file is offered under: no folders, no control characters, not too long."""
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"/').strip() or "file"
    if len(name) > NAME_MAX_LENGTH:
        stem, ext = os.path.splitext(name)
        name = stem[: NAME_MAX_LENGTH - len(ext)] + ext
    return name


def check_attachment(uploaded):
    """(clean name, content type) of an uploaded file one may share, or AttachmentRefused."""
    name = clean_name(uploaded.name)
    ext = os.path.splitext(name)[1].lower()
    types = allowed_types()
    if ext not in types:
        raise AttachmentRefused(
            _("“%(name)s” cannot be shared: allowed files are %(types)s.")
            % {"name": name, "types": ", ".join(sorted(types))}
        )
    limit = coaching_settings.MESSAGE_ATTACHMENT_MAX_BYTES
    if uploaded.size is None or uploaded.size > limit:
        raise AttachmentRefused(
            _("“%(name)s” is too large: files up to %(limit)s can be shared.")
            % {"name": name, "limit": filesizeformat(limit)}
        )
    if uploaded.size == 0:
        raise AttachmentRefused(_("“%(name)s” is empty.") % {"name": name})
    return name, types[ext]
