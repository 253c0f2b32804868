"""The local file outbox: one file per message under ``Settings.outbox_dir``.

The embedded default for the demo and the fake that tests share: WhatsApp and SMS become
``<brand>/<kind>/<id>.json``, email a real ``.eml`` you can open in a mail client. A message's
file name depends only on its notification id and is written atomically, so sending it again
replaces the file: this channel is idempotent.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tidings.channels.base import OutboundMessage, SendResult
from tidings.channels.smtp import build_email
from tidings.store.enums import ChannelKind

PROVIDER = "file"


class FileOutboxChannel:
    """Writes messages of one kind to files instead of sending them."""

    name = PROVIDER
    idempotent = True
    rate_per_second: float | None = None

    def __init__(self, *, kind: ChannelKind, directory: Path) -> None:
        self.kind = kind
        self.directory = directory

    def path_for(self, message: OutboundMessage) -> Path:
        """Where a message's file goes."""
        suffix = ".eml" if self.kind is ChannelKind.EMAIL else ".json"
        name = f"{message.notification_id:08d}{suffix}"
        return self.directory / message.brand / self.kind.value / name

    def send(self, message: OutboundMessage) -> SendResult:
        """Write the message's file; its name is the provider message id."""
        path = self.path_for(message)
        if self.kind is ChannelKind.EMAIL:
            data = build_email(message).as_bytes()
        else:
            document = message.model_dump(mode="json", exclude_none=True)
            data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        _write_atomically(path, data)
        return SendResult(provider=PROVIDER, provider_message_id=f"file:{path.name}")

    def close(self) -> None:
        """Nothing to close."""


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers never see half a
    file, and a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
