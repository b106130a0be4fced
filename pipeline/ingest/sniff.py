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
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

CHUNK = 32 << 20

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
    spaced_quote: dict[str, bool]  # per delimiter: see _spaced_quote_pattern
    ends_with_newline: bool
    head: bytes  # the first bytes, for sniffing
    long_line: bool = False  # some line is longer than CHUNK bytes (never the fast path)


def scan_file(path: Path, head_bytes: int, delimiters: tuple[str, ...] = (",",)) -> FileFacts:
    # hashlib releases the GIL on large buffers, so the hash runs beside the scan.
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(sha256_file, path)
        facts = _scan_bytes(path, head_bytes, delimiters)
        facts.sha256 = digest.result()
    return facts


def _spaced_quote_pattern(delimiter: str) -> str:
    """Literals where DuckDB and the csv module read a field differently: one space
    before an opening quote (after a delimiter or a line end), spaces after a
    closing quote. A plain alternation of literals, so polars' regex engine
    scans for all of them at once with SIMD."""
    d = delimiter
    literals = [d + ' "', '\n "', '\r "', '" ' + d, '" \n', '" \r', '"  ']
    return "|".join(re.escape(x) for x in literals)


@dataclass
class _Counts:
    lf: int = 0
    cr: int = 0
    crlf: int = 0
    blank: bool = False
    nul: bool = False
    quotes: bool = False
    good: int = 0  # evidence of valid non-ASCII UTF-8 (see _scan_chunk)
    bad: int = 0  # undecodable bytes
    utf8_ok: bool = True
    spaced: dict[str, bool] = field(default_factory=dict)
    long_line: bool = False  # a line longer than CHUNK bytes


def _utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")  # C speed, with an ASCII fast path
    except UnicodeDecodeError:
        return False
    return True


def _scan_chunk(chunk: bytes, c: _Counts, delimiters: tuple[str, ...]) -> None:
    """Counts for one newline-aligned chunk, computed in polars (Rust, in parallel)."""
    has_cr = b"\r" in chunk  # memchr: cheap, and most files have none
    if b'"' not in chunk and _utf8(chunk):
        # Without quotes there is no spaced quote to find: byte searches (memchr speed)
        # give every other count.
        if not chunk.isascii():
            c.good += len(chunk)  # the same upper bound as below
        c.lf += chunk.count(b"\n")
        if has_cr:
            c.cr += chunk.count(b"\r")
            c.crlf += chunk.count(b"\r\n")
        blanks = (b"\n\n", b"\n\r\n", b"\r\r") if has_cr else (b"\n\n",)
        c.blank = c.blank or any(p in chunk for p in blanks)
        c.nul = c.nul or b"\x00" in chunk
        for d in delimiters:
            c.spaced.setdefault(d, False)
        return
    try:  # the cast validates UTF-8 with SIMD
        text = pl.DataFrame({"t": pl.Series([chunk], dtype=pl.Binary).cast(pl.String)})
    except pl.exceptions.ComputeError:  # not UTF-8: count in Python, this path is rare
        c.utf8_ok = False
        decoded = chunk.decode("utf-8", "replace")
        n_bad = decoded.count("\ufffd")
        c.bad += n_bad
        c.good += len(decoded) - len(decoded.encode("ascii", "ignore")) - n_bad
        c.lf += chunk.count(b"\n")
        c.cr += chunk.count(b"\r")
        c.crlf += chunk.count(b"\r\n")
        c.blank = c.blank or any(p in chunk for p in (b"\n\n", b"\n\r\n", b"\r\r"))
        c.nul = c.nul or b"\x00" in chunk
        c.quotes = c.quotes or b'"' in chunk
        return
    t = pl.col("t").str
    exprs = [
        t.contains("\n\n", literal=True).alias("blank"),
        t.contains("\x00", literal=True).alias("nul"),
        t.contains('"', literal=True).alias("quotes"),
        *(
            t.contains(_spaced_quote_pattern(d)).alias(f"spaced{i}")
            for i, d in enumerate(delimiters)
        ),
    ]
    if has_cr:
        exprs += [
            t.count_matches("\r", literal=True).alias("cr"),
            t.count_matches("\r\n", literal=True).alias("crlf"),
            t.contains("\n\r\n|\r\r").alias("blank_cr"),
        ]
    row = text.select(exprs).row(0, named=True)
    c.lf += chunk.count(b"\n")  # faster than the regex engine for one byte
    if not chunk.isascii():
        # An upper bound on its non-ASCII bytes, which is all the majority test needs:
        # a cp1252 file never has a whole chunk of valid multi-byte UTF-8.
        c.good += len(chunk)
    c.cr += row.get("cr", 0)
    c.crlf += row.get("crlf", 0)
    c.blank = c.blank or row["blank"] or row.get("blank_cr", False)
    c.nul = c.nul or row["nul"]
    c.quotes = c.quotes or row["quotes"]
    for i, d in enumerate(delimiters):
        c.spaced[d] = c.spaced.get(d, False) or row[f"spaced{i}"]


def _scan_bytes(path: Path, head_bytes: int, delimiters: tuple[str, ...]) -> FileFacts:
    c = _Counts()
    size = 0
    head = b""
    carry = b""
    prev = b""  # the last bytes of the previous chunk, for patterns that straddle two
    with path.open("rb") as f:
        while True:
            block = f.read(CHUNK)
            data = carry + block
            if not data:
                break
            if block:
                cut = data.rfind(b"\n") + 1  # whole lines only: no character is split
                if not cut and len(data) >= CHUNK:
                    # A line longer than a chunk: cut it before a character start, so the
                    # memory stays one chunk whatever the file (a sparse file of NULs).
                    # Patterns may straddle this cut: the fast path is ruled out.
                    cut = _char_start(data)
                    c.long_line = True
                chunk, carry = (data[:cut], data[cut:]) if cut else (b"", data)
                if not chunk:
                    continue
            else:
                chunk, carry = data, b""
            if not head:
                head = chunk[:head_bytes]
                body = chunk[3:] if chunk.startswith(codecs.BOM_UTF8) else chunk
                c.blank = c.blank or body[:1] in (b"\n", b"\r")
                for d in delimiters:  # a space and a quote opening the very first field
                    c.spaced[d] = body[:2] == b' "'
            size += len(chunk)
            _scan_chunk(chunk, c, delimiters)
            edge = prev + chunk[:3]
            c.blank = c.blank or any(p in edge for p in (b"\n\n", b"\n\r\n", b"\r\r"))
            c.crlf += prev[-1:] == b"\r" and chunk[:1] == b"\n"
            prev = chunk[-3:]
    if prev.endswith(b'" ') or prev.endswith(b'"  '):
        c.spaced = dict.fromkeys(delimiters, True)  # spaces after a closing quote at the end
    bom = next((enc for b, enc in BOMS if head.startswith(b)), None)
    return FileFacts(
        size=size,
        sha256="",
        bom_encoding=bom,
        utf8_valid=c.utf8_ok,
        utf8_multibyte=c.good > c.bad,
        crlf=c.crlf,
        lone_cr=c.cr - c.crlf,
        lone_lf=c.lf - c.crlf,
        blank_line=c.blank,
        nul=c.nul,
        quotes=c.quotes,
        spaced_quote=c.spaced,
        ends_with_newline=prev[-1:] in (b"\n", b"\r"),
        head=head,
        long_line=c.long_line,
    )


def _char_start(data: bytes) -> int:
    """A position near the end of `data` where no UTF-8 character is split."""
    for i in range(len(data) - 1, max(0, len(data) - 4), -1):
        if data[i] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            return i
    return len(data) - 1  # not UTF-8 here anyway


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


def _utf16_errors(err: UnicodeError) -> tuple[str, int]:
    # A lone surrogate comes through as itself (surrogatepass); a character cut short
    # at the end of the file as U+DFFF: both are lone surrogates the reader rejects.
    try:
        return codecs.lookup_error("surrogatepass")(err)  # type: ignore[return-value]
    except UnicodeError:
        return "\udfff", err.end  # type: ignore[attr-defined]


codecs.register_error("listhygiene-utf16", _utf16_errors)


def open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """A text stream for the csv module: newline='' so it sees CR, LF and CRLF itself.

    UTF-8 undecodable bytes and broken UTF-16 characters come through as lone
    surrogates, so the reader can reject exactly the rows that hold them."""
    errors = "surrogateescape" if encoding.startswith("utf-8") else "listhygiene-latin1"
    if encoding == "utf-16":
        errors = "listhygiene-utf16"
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
