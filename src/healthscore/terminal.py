"""Text from data made safe to print and to write one record per line.

Account names, owners, categories and driver phrases come from the user's tables and
may hold anything: a carriage return that splits a CSV row for a CR-aware reader, a
line feed that forges a line of output, or a terminal escape sequence (``ESC [ 2 J``
clears the screen, ``ESC ] 8`` makes a link, ``ESC ] 0`` retitles the window).
:func:`clean_text` removes the escape sequences whole and the other control
characters, and turns line breaks and tabs into spaces; :class:`CleanStream` applies
it to everything the command line prints, keeping its own line breaks and tabs.
"""

from __future__ import annotations

import io
import re
from typing import Any, TextIO

#: ECMA-48 escape sequences, 7-bit (``ESC ...``) and 8-bit (C1) forms: CSI (``ESC [``
#: parameters, final byte), OSC (``ESC ]`` ... BEL or ST), the string commands DCS,
#: SOS, PM and APC (... ST), and the two-byte escapes. An unterminated string
#: command runs to the end of the line.
ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c\n]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)

#: Characters some reader takes as the end of a line or a field (``str.splitlines``
#: splits on all of these), and tabs; each becomes one space.
BREAKS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\u2028\u2029"

#: Other C0 and C1 controls, DEL, and the bidirectional overrides and isolates that
#: reorder what a terminal shows ("Trojan Source"); each is removed.
CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7f, 0xa0)] if chr(c) not in BREAKS) + \
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

_TABLE = {**{ord(c): " " for c in BREAKS}, **{ord(c): None for c in CONTROLS}}
#: Any character :func:`clean_text` changes (every escape sequence starts with one).
UNSAFE_CHARACTER = re.compile("[" + re.escape(BREAKS + CONTROLS) + "]")


def clean_text(text: str, *, keep: str = "") -> str:
    """``text`` without escape sequences or control characters, on one line.

    Escape sequences are removed whole, line breaks and tabs become a space, other
    controls are removed; characters in ``keep`` (e.g. ``"\\n\\t"`` for output the
    program laid out itself) stay as they are. Text without any of these is returned
    unchanged.
    """
    if not UNSAFE_CHARACTER.search(text):
        return text
    table = _TABLE if not keep else {k: v for k, v in _TABLE.items() if chr(k) not in keep}
    return ESCAPE_SEQUENCE.sub("", text).translate(table)


def clean_values(value: Any) -> Any:
    """``value`` with :func:`clean_text` applied to every string inside it (dicts,
    lists and tuples are walked; other values are returned as they are)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: clean_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_values(v) for v in value)
    return value


class CleanStream(io.TextIOBase):
    """A text stream that writes :func:`clean_text` of everything, keeping line
    feeds and tabs, to ``stream`` (``sys.stdout`` or ``sys.stderr``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(clean_text(text, keep="\n\t"))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")
