"""What counts as text, in one place: the one cleaner for text we store and text we publish.

A web page can carry code points that are not text: lone surrogates (``&#xD800;``; they cannot be
encoded, so they would break hashing and storing), C0/C1 control characters, Unicode
noncharacters. None of them is allowed in XML 1.0, and the HTML parser flags them as errors.

- :func:`clean_str` (extract stage): what is not text removed, the controls that ``str.split``
  takes for spaces (vertical tab, form feed, the separators, NEL) turned into a space, nothing
  else changed: what is stored is what the site wrote.
- :func:`clean_text` (digest and publish): :func:`clean_str`, then the astral noncharacters
  removed and the text NFC-normalized, so no input can make a page or a feed invalid, and the
  same words look the same wherever they came from.
- :func:`clean_line`: :func:`clean_text` of one line (whitespace runs collapsed, ends trimmed).

Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["NOT_TEXT", "clean_line", "clean_str", "clean_text"]

#: C0 controls but tab/newline/CR, DEL, C1 controls, lone surrogates and the BMP's noncharacters.
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_SPACE_LIKE = frozenset("\x0b\x0c\x1c\x1d\x1e\x1f\x85")  # controls str.split() treats as spaces
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASTRAL_NONCHARS = re.compile("[" + "".join(f"\\U{p:04x}fffe\\U{p:04x}ffff" for p in range(1, 17)) + "]")


def _not_text(m: re.Match[str]) -> str:
    return " " if m.group() in _SPACE_LIKE else ""


def clean_str(text: str) -> str:
    """``text`` without lone surrogates, control characters (but tab/LF/CR) or noncharacters."""
    return NOT_TEXT.sub(_not_text, text) if NOT_TEXT.search(text) else text


def clean_text(text: str | None) -> str:
    """``text`` without the code points no HTML page or XML feed may carry (NFC-normalized)."""
    if not text:
        return ""
    if text.isprintable():  # no control, surrogate or noncharacter (no "Other" code point at all): the usual case
        return text if text.isascii() else unicodedata.normalize("NFC", text)
    if text.replace("\n", " ").replace("\r", " ").replace("\t", " ").isprintable():  # lines (HTML, diffs): same
        return text if text.isascii() else unicodedata.normalize("NFC", text)
    text = clean_str(text)
    if text.isascii():
        return text
    if _ASTRAL.search(text):
        text = _ASTRAL_NONCHARS.sub("", text)
    return unicodedata.normalize("NFC", text)


def clean_line(text: str | None) -> str:
    """:func:`clean_text` on one line: whitespace runs (NBSP too) collapsed to one space, ends trimmed."""
    if text and text.isprintable():  # the usual case: nothing to strip, and the only whitespace is " "
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        if "  " not in text and text[0] != " " and text[-1] != " ":
            return text
    return " ".join(clean_text(text).split())
