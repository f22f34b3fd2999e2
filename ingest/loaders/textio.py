"""Turning raw bytes into text, with clear refusals for what is not text."""

from __future__ import annotations

from ingest.model import LoadError

# A text file this far into control characters is a binary file with the wrong name.
_MAX_CONTROL_RATIO = 0.05
_ALLOWED_CONTROLS = {"\n", "\r", "\t", "\f", "\v"}


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), refusing empty, binary and non-UTF-8 input.

    Non-UTF-8 is refused rather than guessed at: a wrongly decoded retention
    period is worse than a file that asks to be re-saved.
    """
    if not data.strip():
        raise LoadError("file is empty (no text to index)")
    sample = data[:8192]
    if b"\x00" in sample:
        raise LoadError("file looks binary (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None
    head = text[:8192]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in _ALLOWED_CONTROLS)
    if controls > _MAX_CONTROL_RATIO * len(head):
        raise LoadError("file looks binary (mostly control characters), not text")
    return text
