"""An email backend for tests with real worker processes: one file per message, written
after a pause, so a test can see who sent what and can kill a worker mid-send.

Settings (or environment variables of the same names): ``EMAIL_FILE_PATH``, the folder;
``EMAIL_DELAY_SECONDS``, the pause before each message is written (default 0). Before the
pause the backend writes ``sending-<pid>-<n>`` into the folder, so a test knows which
process is busy; each message then lands in ``mail-<pid>-<n>.eml`` (written whole, via a
rename), headed by ``X-Worker-PID``.
"""

import itertools
import os
import time
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

_counter = itertools.count()


def _setting(name, default=None):
    return getattr(settings, name, None) or os.environ.get(name) or default


class SlowFileBackend(BaseEmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.folder = Path(file_path or _setting("EMAIL_FILE_PATH"))
        self.delay = float(_setting("EMAIL_DELAY_SECONDS", 0))

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        for message in email_messages:
            n = next(_counter)
            (self.folder / f"sending-{pid}-{n}").write_text(", ".join(message.to))
            time.sleep(self.delay)
            partial = self.folder / f".partial-{pid}-{n}"
            partial.write_bytes(
                f"X-Worker-PID: {pid}\n".encode() + message.message().as_bytes()
            )
            partial.rename(self.folder / f"mail-{pid}-{n}.eml")
        return len(email_messages)


def sent_files(folder):
    """(worker pid, recipient) of every message written to ``folder``."""
    from email import message_from_bytes

    found = []
    for path in sorted(Path(folder).glob("mail-*.eml")):
        message = message_from_bytes(path.read_bytes())
        found.append((int(message["X-Worker-PID"]), message["To"]))
    return found
