"""Bytes to text with the charset a message declares, as mail clients really mean it.

Labels are read as the WHATWG Encoding Standard does (the superset a sender's software
meant), and an undecodable byte never loses the rest of the text.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

# WHATWG Encoding Standard labels: mail software means the superset.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "cp950",
    "x-x-big5": "cp950",
    "cn-big5": "cp950",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859_8",
}


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset; if unknown or wrong, try UTF-8, then Windows-1252.

    Windows-1252 as decoded here maps every byte, so nothing is lost. Returns
    the text and a problem note when the declared charset did not work.
    """
    declared = (charset or "").strip().strip('"').lower()
    codec = _CHARSET_ALIASES.get(declared, declared)
    problem = None
    if codec:
        try:
            return _decode_as(data, codec), None
        except LookupError:
            problem = f"unknown charset {declared!r}"
        except UnicodeDecodeError:
            problem = f"text is not valid {declared!r}"
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        return _decode_windows_1252(data), problem


def _decode_as(data: bytes, codec: str) -> str:
    """Decode with a codec name or alias; LookupError if unknown, UnicodeDecodeError if invalid."""
    name = codecs.lookup(codec).name
    special = _DECODERS.get(name)
    return special(data) if special else data.decode(name)


# Windows-1252's five unassigned bytes, decoded as the C1 controls, as browsers do.
_CP1252_UNASSIGNED = {0xDC00 + b: chr(b) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _decode_windows_1252(data: bytes) -> str:
    return data.decode("cp1252", "surrogateescape").translate(_CP1252_UNASSIGNED)


_ISO_2022_JP_ESCAPE = re.compile(rb"\x1b(\$[@B]|\([BJI])")


def _decode_iso_2022_jp(data: bytes) -> str:
    """ISO-2022-JP as Windows writes it (CP50220): JIS X 0208 plus NEC and IBM extensions.

    Python's codec rejects the extensions (①, ㈱, IBM kanji), common in mail from
    Japanese Outlook. Each two-byte JIS code becomes its Shift_JIS code and
    the result is decoded as cp932, which has them.
    """
    if not data.isascii():
        raise UnicodeDecodeError("iso-2022-jp", data, 0, len(data), "8-bit data")
    parts = _ISO_2022_JP_ESCAPE.split(data)  # text, mode, text, mode, ..., text
    sjis = bytearray()
    for mode, chunk in zip([b"(B", *parts[1::2]], parts[::2], strict=True):
        if mode.startswith(b"$"):
            sjis += _jis_to_shift_jis(chunk)
        elif mode == b"(I":  # JIS X 0201 half-width katakana
            sjis += bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk)
        else:
            sjis += chunk
    return sjis.decode("cp932")


def _jis_to_shift_jis(chunk: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(chunk):
        c1 = chunk[i]
        if not 0x21 <= c1 <= 0x7E or i + 1 == len(chunk):  # stray control byte or odd end
            out.append(c1)
            i += 1
            continue
        c2 = chunk[i + 1]
        s1 = ((c1 - 0x21) >> 1) + 0x81
        s1 += 0x40 if s1 > 0x9F else 0
        s2 = c2 + (0x1F if c2 < 0x60 else 0x20) if c1 % 2 else c2 + 0x7E
        out += bytes((s1, s2))
        i += 2
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes], str]] = {
    "cp1252": _decode_windows_1252,
    "iso2022_jp": _decode_iso_2022_jp,
}
