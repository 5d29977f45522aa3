"""Why a message or a file was refused, in words for the person who sent it."""


class MessageRefused(Exception):
    """The message was not written (nothing was saved); ``str()`` says why."""


class AttachmentRefused(MessageRefused):
    """A file that is too large or of a type not allowed."""
