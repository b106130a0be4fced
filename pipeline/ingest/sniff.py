"""Byte-level facts about a file, found in one streaming pass.

The CSV reader needs to know, before it picks its path, whether the file is
plain UTF-8, which line endings it uses and whether anything would make a
fast columnar read give different row numbers than a spreadsheet shows
(blank lines, lone CRs, NUL bytes). The same pass computes the sha256 the
ledger and manifest record, so each byte is read once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 << 20

BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class FileFacts:
    size: int
    sha256: str
    bom_encoding: str | None  # utf-8-sig / utf-16 when the file starts with a BOM
    utf8_valid: bool  # every byte (after any UTF-8 BOM) decodes as UTF-8
    utf8_multibyte: bool  # more valid non-ASCII UTF-8 characters than undecodable bytes
    crlf: int
    lone_cr: int
    lone_lf: int
    blank_line: bool  # two line ends in a row, or a line end at the very start
    nul: bool
    quotes: bool  # any '"' byte: only then can a record span lines
    ends_with_newline: bool
    head: bytes  # the first bytes, for sniffing


def scan_file(path: Path, head_bytes: int) -> FileFacts:
    # hashlib releases the GIL on large buffers, so the hash runs beside the scan.
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(sha256_file, path)
        facts = _scan_bytes(path, head_bytes)
        facts.sha256 = digest.result()
    return facts


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))  # C speed, no Python loop


def _scan_bytes(path: Path, head_bytes: int) -> FileFacts:
    size = crlf = cr = lf = 0
    blank = nul = quotes = False
    good = bad = 0  # non-ASCII characters that decode as UTF-8, and bytes that do not
    utf8_ok = True
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    head = b""
    prev = b""  # the last two bytes of the previous chunk, for pairs that straddle chunks
    with path.open("rb") as f:
        first = True
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if first:
                head = chunk[:head_bytes]
                body = chunk[3:] if chunk.startswith(codecs.BOM_UTF8) else chunk
                blank = body[:1] in (b"\n", b"\r")
                first = False
            # bytes.count is a full pass each; `in` with one byte is memchr-fast.
            has_cr = b"\r" in chunk or prev.endswith(b"\r")
            n_lf = chunk.count(b"\n")
            n_cr = chunk.count(b"\r") if has_cr else 0
            n_crlf = (
                chunk.count(b"\r\n") + (prev.endswith(b"\r") and chunk[:1] == b"\n")
                if has_cr
                else 0
            )
            lf += n_lf
            cr += n_cr
            crlf += n_crlf
            if not blank:
                edge = prev + chunk[:3]
                if not has_cr:
                    pairs: tuple[bytes, ...] = (b"\n\n",)
                elif n_cr == n_lf == n_crlf:
                    pairs = (b"\r\n\r\n",)  # pure CRLF: no other blank line can occur
                else:
                    pairs = (b"\n\n", b"\n\r\n", b"\r\r")
                blank = any(p in chunk or p in edge for p in pairs)
            nul = nul or b"\x00" in chunk
            quotes = quotes or b'"' in chunk
            if not chunk.isascii():
                if utf8_ok:
                    try:
                        good += _non_ascii(dec.decode(chunk))
                    except UnicodeDecodeError:
                        utf8_ok = False
                if not utf8_ok:
                    text = chunk.decode("utf-8", "replace")
                    n_bad = text.count("\ufffd")
                    bad += n_bad
                    good += _non_ascii(text) - n_bad
            elif utf8_ok and dec.getstate()[0]:
                utf8_ok = False  # a multi-byte sequence cut short by ASCII
            prev = chunk[-3:]
    if utf8_ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    bom = next((enc for b, enc in BOMS if head.startswith(b)), None)
    return FileFacts(
        size=size,
        sha256="",
        bom_encoding=bom,
        utf8_valid=utf8_ok,
        utf8_multibyte=good > bad,
        crlf=crlf,
        lone_cr=cr - crlf,
        lone_lf=lf - crlf,
        blank_line=blank,
        nul=nul,
        quotes=quotes,
        ends_with_newline=prev[-1:] in (b"\n", b"\r"),
        head=head,
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def choose_encoding(facts: FileFacts, fallback: str) -> str:
    """UTF-8 (BOM or not) and UTF-16 with a BOM are read as such; anything else
    that is not valid UTF-8 is read with the fallback (cp1252 by default),
    unless it is clearly UTF-8 with a few broken bytes: then it stays UTF-8 and
    the rows holding the broken bytes become rejects."""
    if facts.bom_encoding == "utf-16":
        return "utf-16"
    if facts.utf8_valid:
        return "utf-8-sig" if facts.bom_encoding else "utf-8"
    if facts.bom_encoding == "utf-8-sig" or facts.utf8_multibyte:
        return "utf-8-sig" if facts.bom_encoding else "utf-8"
    return fallback


def _fallback_errors(err: UnicodeDecodeError) -> tuple[str, int]:
    # cp1252 leaves five bytes undefined; Windows maps them to C1 controls, as latin-1 does.
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("listhygiene-latin1", _fallback_errors)


def open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """A text stream for the csv module: newline='' so it sees CR, LF and CRLF itself.

    UTF-8 undecodable bytes come through as lone surrogates (surrogateescape),
    so the reader can reject exactly the rows that hold them."""
    errors = "surrogateescape" if encoding.startswith("utf-8") else "listhygiene-latin1"
    if encoding == "utf-16":
        errors = "surrogatepass"
    return open(path, encoding=encoding, errors=errors, newline="")


def sniff_delimiter(sample: str, candidates: tuple[str, ...], suffix: str) -> str:
    """The candidate whose count per record is the same, and non-zero, on the most records.

    Counting is done on records parsed with each candidate, so delimiters
    inside quoted fields do not count. A `.tsv` file prefers tab on a tie."""
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    text = sample[: cut + 1] if cut > 0 else sample  # the sample may cut the last line short
    best, best_key = candidates[0], (-1, 0, 0, 0)
    for rank, d in enumerate(candidates):
        rows = itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=d), 200)
        try:
            counts = [len(r) for r in rows if r]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        agree = sum(1 for c in counts if c == counts[0])
        prefer = 1 if (d == "\t" and suffix == ".tsv") else 0
        key = (agree, prefer, counts[0], -rank)
        if key > best_key:
            best, best_key = d, key
    return best
