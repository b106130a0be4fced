"""Email pre-cleaning and syntax verdicts identical to email-validator, at columnar speed.

The contract: for every address, ``valid``, ``email`` and ``error`` equal what
``email_validator.validate_email(address, check_deliverability=False)`` gives
with its default options (email-validator 2.4.0): ``email`` is ``.normalized``,
``error`` is ``str(exc)`` verbatim. ``email_key`` is ``email.lower()`` (Python
semantics). Only the common shapes are decided here with polars expressions;
everything else goes to email-validator itself, on all cores.

Pre-cleaning (vectorized, recorded per row in ``fixes``, never silent)
---------------------------------------------------------------------
Applied in this order, each step followed by trimming again:

1. ``removed_zero_width``: U+200B, U+200C, U+200D, U+2060 and U+FEFF are removed
   *anywhere* in the value, not only at its ends: they are invisible, arrive
   from copy-paste (web pages, Word, a BOM at the start of a cell), and
   email-validator rejects every one of them wherever it stands (all are
   category Cf, which ``check_unsafe_chars`` refuses in local parts, quoted or
   not, in domains and in display names).
2. ``trimmed_whitespace`` / ``removed_nbsp``: surrounding whitespace (Python's
   ``str.isspace`` set, see ``WHITESPACE``) and NBSP U+00A0 are stripped from
   both ends. NBSP *inside* a value is kept: unlike a zero-width character it
   is visible and separates words, so removing it would be a guess.
3. ``trailing_punctuation``: one trailing ``.``, ``,`` or ``;``.
4. ``display_name`` / ``angle_brackets``: ``Name <addr>`` becomes ``addr``
   (``display_name``); a bare ``<addr>`` is recorded as ``angle_brackets``.
   The address is what stands between the last ``<`` and a final ``>``.
5. ``mailto``: a leading ``mailto:`` (ASCII letters in any case).

Pre-cleaning never changes an address that email-validator accepts: with the
default options every value with one of these features is invalid (edge
whitespace, NBSP and zero-width characters are unsafe or invalid characters; a
valid address cannot end in ``.``, ``,``, ``;`` or ``>``, display names are not
allowed, and ``mailto:`` puts a ``:`` into the local part). So it can only turn
a rejected value into an accepted one, and the tests check exactly that.

A null input, or a value that is empty after pre-cleaning, gets the error
email-validator gives for the empty string, ``"An email address must have an
@-sign."``, and the reason ``empty``.

The fast path (mirrors email_validator 2.4.0, ``validate_email.py`` and ``syntax.py``)
------------------------------------------------------------------------------------
Let ``s`` be the value, ``L`` the text before its first ``@`` and ``D`` the
text after it. ``ATEXT`` is ``rfc_constants.ATEXT`` (letters, digits and
``_!#$%&'*+-/=?^`{|}~``).

Most rows are settled by one regular expression over the whole value: an ASCII
dot-atom, ``@``, hostname labels of 1-63 characters with at least one period
and a last character that is a letter, no ``--``, at most 254 characters and
no special-use domain; every rule below agrees that such a value is valid. The
other rows go through the rules below, in email-validator's order.

* **No @-sign.** If ``s`` has no ``@`` and no ``<``,
  ``split_string_at_unquoted_special`` (syntax.py 50-120) never finds a special
  character, whatever the quotes: the error is the full-width at-sign message if
  ``＠`` occurs, else the "small commercial at" message if ``﹫`` occurs, else
  ``"An email address must have an @-sign."``. A ``<`` without ``@`` goes to
  email-validator (display-name path).
* **Split.** When ``L`` is ASCII and holds no ``"`` or ``<``, the split is at
  the first ``@``: no quote opens before it, and the NFC window test (line 71)
  never fires because ASCII characters followed by ASCII characters or ``@``
  do not compose and no canonical composition starts with ``@`` (checked over
  all code points in the tests). So ``local_part = L``, ``domain_part = D``,
  unquoted, no display name.
* **Local part** (``validate_email_local_part``, syntax.py 238-396): ``L`` empty
  gives "There must be something before the @-sign." (true for *any* ``s``
  starting with ``@``). ``L`` matching ``DOT_ATOM_TEXT`` is valid and
  unchanged (NFC leaves ASCII alone, validate_email.py 127-137). Any other ASCII
  ``L`` fails ``DOT_ATOM_TEXT_INTL`` too, so the error is the sorted set of
  ``safe_character_display`` of its characters outside ``ATEXT`` and ``.``,
  else ``check_dot_atom``'s period messages in its order (end, start, double).
  The display strings come from email-validator's own function, precomputed
  for the 128 ASCII characters, and are emitted in the order of their sorted
  display strings. The character sets come from the library's own regular
  expressions (``DOT_ATOM_TEXT``, ``ATEXT_INTL_DOT_RE``, ``ATEXT_HOSTNAME_INTL``).
* **Internationalized local part.** A non-ASCII ``L`` (still without ``"`` or
  ``<``; the split argument above holds because only ``"``, ``<`` and ``@``
  are special, and ``@`` never composes) is valid and unchanged when it is a
  dot-atom of ``ATEXT`` and non-ASCII characters that ``check_unsafe_chars``
  accepts (categories L, N, P, S; M except in first position; the class is
  built from this Python's ``unicodedata``, the tables email-validator uses),
  and it is already NFC (polars' NFC agrees with Python's for assigned
  characters: Unicode's normalization stability policy). Any other non-ASCII
  ``L`` goes to email-validator.
* **Role mailboxes.** A valid ``L`` whose lower case is in
  ``CASE_INSENSITIVE_MAILBOX_NAMES`` is lower-cased (validate_email.py 149-154).
* **Domain part, once L is a valid dot-atom** (validate_email.py 156-177,
  ``validate_email_domain_name`` syntax.py 505-738), in email-validator's order:
  ``D`` empty: "There must be something after the @-sign."; ``[...]``: a
  domain literal, see probes; more than 253 characters: the "too long after
  the @-sign" message; ASCII characters outside ``[A-Za-z0-9.-]``: the sorted
  invalid-characters message (non-ASCII characters all pass
  ``ATEXT_HOSTNAME_INTL``, so only ASCII ones can be listed here); any other
  non-ASCII ``D``: probe. For an ASCII ``D`` of ``[A-Za-z0-9.-]``:
  ``uts46_remap`` only lower-cases it (checked for every such character in
  the tests), then ``check_dot_atom`` (period and hyphen messages, in its
  order), the R-LDH rule (two characters other than ``xn`` then ``--`` at the
  start of a label), labels over 63 characters (probe), no period, a last
  character that is not a letter (``DOMAIN_NAME_REGEX``), the special-use
  names (``SPECIAL_USE_DOMAIN_NAMES``, read from the module at call time),
  and ``xn--`` anywhere (IDNA round trip: probe). What is left is valid, and
  ``domain = ascii_domain = D.lower()``.
* **Length** (``validate_email_length``, syntax.py 741-801): for these rows the
  original (= ``s``), normalized and ASCII forms have the same UTF-8 length, so
  only ``len(s.encode()) > 254`` fails: with "(N character(s) too many)" when
  ``s`` is ASCII; otherwise the row goes to email-validator.
* **Domain probes** (``decided_by = "domain_probe"``). Domains the rules above
  cannot settle (internationalized, Punycode, bracketed, labels over 63
  characters) are validated once per *distinct* domain by calling
  ``validate_email("a@" + D)``: with a valid dot-atom local part, every check
  before the length check depends on ``D`` alone, so a non-length error of the
  probe is the row's error, and a valid probe gives the row's ``domain`` and
  ``ascii_domain``; the row's own three lengths are then checked as
  ``validate_email_length`` does (an overflow, or a probe that fails on
  length, sends the row itself to email-validator).
* **Everything else** (``decided_by = "email_validator"``: quoted local parts,
  ``<`` before the ``@``, non-NFC or unsafe internationalized local parts, and
  whatever the rules do not cover) is the residue: each distinct value is
  passed to ``validate_email`` itself, in a process pool when there are at
  least ``_PARALLEL_MIN`` of them and more than one worker, else in-process.
  The pool (forkserver start method: forking a process that runs polars'
  threads is unsafe) is started in the background while polars works, and
  reused by later calls. As with any multiprocessing code, a script that calls
  ``validate_emails`` at import time needs an ``if __name__ == "__main__":``
  guard; click entry points, ``python -m`` and pytest are fine.

``email_key`` is lower-cased by polars for ASCII addresses, and by Python's
``str.lower`` for the others (polars' Unicode tables and final-sigma rules are
not Python's).

The fast path is used only with email-validator 2.4.0 (``FAST_PATH_VERSIONS``):
with any other version every row goes to email-validator, correct but slower.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import multiprocessing as mp
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Final

import email_validator
import polars as pl
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    ATEXT_HOSTNAME_INTL,
    ATEXT_INTL_DOT_RE,
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
)
from email_validator.syntax import safe_character_display

__all__ = [
    "FIX_CODES",
    "REASON_CLASSES",
    "check_email",
    "check_emails",
    "preclean_one",
    "reason_for_error",
    "validate_emails",
]

FAST_PATH_VERSIONS: Final = frozenset({"2.4.0"})
"""email-validator versions whose behaviour the fast path was proven against."""

# email-validator's default options, pinned: the residue must not follow a caller
# who changed the module-level defaults (the fast path never would).
EV_OPTIONS: Final[dict[str, Any]] = {
    "check_deliverability": False,
    "allow_smtputf8": True,
    "allow_empty_local": False,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_display_name": False,
    "strict": False,
    "test_environment": False,
    "globally_deliverable": True,
}


def _class(code_points: Iterable[int]) -> str:
    """A Rust regex class body listing exactly these code points, as ranges."""
    out: list[str] = []
    points = sorted(code_points)
    start = prev = points[0]
    for cp in [*points[1:], -1]:
        if cp != prev + 1:
            out.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev != start else ""))
            start = cp
        prev = cp
    return "".join(out)


# ------------------------------------------------------------ pre-cleaning

NBSP: Final = "\u00a0"
ZERO_WIDTH: Final = "\u200b\u200c\u200d\u2060\ufeff"
# Python's str.isspace() set (Unicode 14, CPython 3.11) without NBSP, which has its own code.
WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_TRIM: Final = WHITESPACE + NBSP

FIX_CODES: Final[dict[str, str]] = {
    "removed_zero_width": "zero-width characters (U+200B/C/D, U+2060, U+FEFF) removed anywhere",
    "trimmed_whitespace": "whitespace removed from the start or end",
    "removed_nbsp": "no-break spaces (U+00A0) removed from the start or end",
    "trailing_punctuation": "one trailing '.', ',' or ';' removed",
    "display_name": "'Name <addr>' unwrapped to 'addr'",
    "angle_brackets": "'<addr>' unwrapped to 'addr'",
    "mailto": "a leading 'mailto:' removed",
}
"""Pre-cleaning fix codes, in the order they appear in a row's ``fixes`` list."""

_ZW_RE: Final = "[" + ZERO_WIDTH + "]"
_ANGLE_RE: Final = r"(?s)^(.*?)<([^<>]*)>$"  # Python: re.fullmatch(r"(.*?)<([^<>]*)>", s, re.S)
_MAILTO_RE: Final = "^[Mm][Aa][Ii][Ll][Tt][Oo]:"
_ws_class = _class(map(ord, _TRIM))
# A superset of the values pre-cleaning changes; the others skip the string work.
_DIRTY_RE: Final = f"{_ZW_RE}|^[{_ws_class}]|[{_ws_class}]$|[.,;>]$|{_MAILTO_RE}"


def preclean_one(value: str) -> tuple[str, list[str]]:
    """Pre-clean one value in plain Python: the reference for the polars version.

    Used for values polars cannot hold (lone surrogates) and by the tests.
    """
    fixes: set[str] = set()

    def trim(text: str) -> str:
        stripped = text.strip(_TRIM)
        if stripped != text:
            if text.strip(NBSP) != stripped:
                fixes.add("trimmed_whitespace")
            if text.strip(WHITESPACE) != stripped:
                fixes.add("removed_nbsp")
        return stripped

    text = value
    if any(c in text for c in ZERO_WIDTH):
        text = re.sub(_ZW_RE, "", text)
        fixes.add("removed_zero_width")
    text = trim(text)
    if text.endswith((".", ",", ";")):
        text = trim(text[:-1])
        fixes.add("trailing_punctuation")
    m = re.fullmatch(r"(.*?)<([^<>]*)>", text, re.S)
    if m:
        fixes.add("display_name" if m.group(1).strip(_TRIM) else "angle_brackets")
        text = trim(m.group(2))
    if re.match(_MAILTO_RE, text):
        text = trim(text[7:])
        fixes.add("mailto")
    return text, [code for code in FIX_CODES if code in fixes]


def _trim_expr(text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(trimmed, whitespace removed?, NBSP removed?), exactly as ``preclean_one``'s trim."""
    stripped = text.str.strip_chars(_TRIM)
    return (
        stripped,
        text.str.strip_chars(NBSP) != stripped,
        text.str.strip_chars(WHITESPACE) != stripped,
    )


def _preclean(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(cleaned, fixes) for a String series; only values matching ``_DIRTY_RE`` are touched."""
    frame = pl.DataFrame({"s": raw}).with_row_index("i")
    dirty = frame.filter(pl.col("s").str.contains(_DIRTY_RE))
    empty_fixes = pl.Series("fixes", [[]], dtype=pl.List(pl.String)).new_from_index(0, len(raw))
    if dirty.height == 0:
        return raw.alias("cleaned"), empty_fixes

    s = pl.col("s")
    zw = s.str.contains(_ZW_RE)
    t1 = s.str.replace_all(_ZW_RE, "")
    t2, ws1, nb1 = _trim_expr(t1)
    punct = t2.str.contains("[.,;]$")
    t3, ws2, nb2 = _trim_expr(pl.when(punct).then(t2.str.replace("[.,;]$", "")).otherwise(t2))
    steps = dirty.select(
        "i", t3.alias("t3"), zw.alias("zw"), punct.alias("punct"), (ws1 | ws2).alias("ws"),
        (nb1 | nb2).alias("nb"),
    )  # fmt: skip
    angle = pl.col("t3").str.extract_groups(_ANGLE_RE)
    steps = steps.with_columns(
        angle.struct.field("1").alias("name"), angle.struct.field("2").alias("inner")
    )
    is_angle = pl.col("inner").is_not_null()
    t4, ws3, nb3 = _trim_expr(pl.col("inner"))
    steps = steps.with_columns(
        pl.when(is_angle).then(t4).otherwise(pl.col("t3")).alias("t4"),
        (is_angle & (pl.col("name").str.strip_chars(_TRIM) != "")).alias("named"),
        is_angle.alias("angle"),
        pl.col("ws") | (is_angle & ws3),
        pl.col("nb") | (is_angle & nb3),
    )
    mailto = pl.col("t4").str.contains(_MAILTO_RE)
    t5, ws4, nb4 = _trim_expr(pl.col("t4").str.slice(7))
    steps = steps.with_columns(
        pl.when(mailto).then(t5).otherwise(pl.col("t4")).alias("cleaned"),
        mailto.alias("mailto"),
        pl.col("ws") | (mailto & ws4),
        pl.col("nb") | (mailto & nb4),
    )
    flags = {
        "removed_zero_width": pl.col("zw"),
        "trimmed_whitespace": pl.col("ws"),
        "removed_nbsp": pl.col("nb"),
        "trailing_punctuation": pl.col("punct"),
        "display_name": pl.col("named"),
        "angle_brackets": pl.col("angle") & ~pl.col("named"),
        "mailto": pl.col("mailto"),
    }
    assert list(flags) == list(FIX_CODES)
    steps = steps.select(
        "i",
        "cleaned",
        pl.concat_list([pl.when(f).then(pl.lit(code)) for code, f in flags.items()])
        .list.drop_nulls()
        .alias("fixes"),
    )
    cleaned = raw.clone().alias("cleaned").scatter(steps["i"], steps["cleaned"])
    fixes = (
        frame.select("i")
        .join(steps.select("i", "fixes"), on="i", how="left", maintain_order="left")
        .get_column("fixes")
    )
    fixes = pl.select(pl.coalesce(fixes, empty_fixes)).to_series().alias("fixes")
    return cleaned, fixes


# ------------------------------------------------- email-validator's messages

# Verbatim from email_validator 2.4.0 (syntax.py / validate_email.py line numbers);
# the tests check each one against the library.
MSG_NO_AT: Final = "An email address must have an @-sign."  # syntax.py 115
MSG_FULLWIDTH_AT: Final = (  # syntax.py 106
    'The email address has the "full-width" at-sign (@) character instead of a regular at-sign.'
)
MSG_SMALL_AT: Final = (  # syntax.py 113
    'The email address has the "small commercial at" character instead of a regular at-sign.'
)
MSG_LOCAL_EMPTY: Final = "There must be something before the @-sign."  # syntax.py 244
MSG_LOCAL_BAD_PREFIX: Final = (  # syntax.py 388
    "The email address contains invalid characters before the @-sign: "
)
MSG_LOCAL_END_PERIOD: Final = (  # syntax.py 392 -> check_dot_atom (451-467)
    "An email address cannot have a period immediately before the @-sign."
)
MSG_LOCAL_START_PERIOD: Final = "An email address cannot start with a period."  # start_descr
MSG_TWO_PERIODS: Final = "An email address cannot have two periods in a row."  # syntax.py 458
MSG_DOMAIN_EMPTY: Final = "There must be something after the @-sign."  # validate_email.py 159
MSG_DOMAIN_BAD_PREFIX: Final = "The part after the @-sign contains invalid characters: "  # 524
MSG_DOMAIN_END_PERIOD: Final = "An email address cannot end with a period."  # syntax.py 572
MSG_DOMAIN_START_PERIOD: Final = (
    "An email address cannot have a period immediately after the @-sign."
)
MSG_DOMAIN_END_HYPHEN: Final = "An email address cannot end with a hyphen."
MSG_DOMAIN_START_HYPHEN: Final = (
    "An email address cannot have a hyphen immediately after the @-sign."
)
MSG_PERIOD_HYPHEN: Final = (  # syntax.py 467
    "An email address cannot have a period and a hyphen next to each other."
)
MSG_RLDH: Final = (  # syntax.py 578
    "An email address cannot have two letters followed by two dashes immediately after the "
    "@-sign or after a period, except Punycode."
)
MSG_NO_PERIOD: Final = "The part after the @-sign is not valid. It should have a period."  # 651
MSG_BAD_TLD: Final = (  # syntax.py 655
    "The part after the @-sign is not valid. It is not within a valid top-level domain."
)
MSG_SPECIAL_USE: Final = (  # syntax.py 668
    "The part after the @-sign is a special-use or reserved name that cannot be used with email."
)
MSG_EMPTY: Final = MSG_NO_AT  # what email-validator says for "", used for null input too

# safe_character_display for every ASCII character (syntax.py 215), from the library itself.
_ASCII_DISPLAY: Final = {chr(i): safe_character_display(chr(i)) for i in range(128)}

# ------------------------------------------------------------ reason classes

REASON_CLASSES: Final[dict[str, str]] = {
    "empty": "the value is null or empty after pre-cleaning",
    "missing_at": "no @-sign",
    "lookalike_at": "a full-width or small commercial at-sign instead of @",
    "local_part_empty": "nothing before the @-sign",
    "local_part_invalid_characters": "characters not allowed before the @-sign",
    "local_part_too_long": "more than 64 characters before the @-sign (strict mode only)",
    "quoted_local_part": "a quoted local part, which the default options do not allow",
    "quote_syntax": "characters after a closing quote",
    "display_name": "a display name or angle brackets, not allowed by the default options",
    "unsafe_characters": "control, format, private-use, unassigned, or space characters",
    "period_placement": "a period at the start or end of a part, or two in a row",
    "hyphen_placement": "a hyphen at the start or end of a domain label, next to a period, or "
    "in positions 3-4 of a non-Punycode label",
    "domain_empty": "nothing after the @-sign",
    "domain_invalid_characters": "characters not allowed after the @-sign",
    "domain_literal": "a bracketed IP address or other domain literal",
    "domain_missing_period": "a domain without a period",
    "domain_invalid_tld": "a domain whose last label does not end with a letter",
    "domain_label_too_long": "a domain label longer than 63 characters",
    "domain_too_long": "a domain longer than 253 characters (or octets after IDNA encoding)",
    "domain_invalid": "a domain that is not valid IDNA",
    "special_use_domain": "a special-use or reserved domain (arpa, invalid, local, localhost, "
    "onion, test)",
    "too_long": "an address longer than 254 octets",
    "other": "a message this version does not classify (never seen in the corpora)",
}
"""Stable ``reason`` codes, derived from email-validator's message by ``reason_for_error``."""

# First matching prefix wins; "After Unicode normalization: " is removed first.
_REASON_PREFIXES: Final[tuple[tuple[str, str], ...]] = (
    (MSG_NO_AT, "missing_at"),
    ('The email address has the "full-width" at-sign', "lookalike_at"),
    ('The email address has the "small commercial at"', "lookalike_at"),
    (MSG_LOCAL_EMPTY, "local_part_empty"),
    (MSG_DOMAIN_EMPTY, "domain_empty"),
    ("The email address is too long before the @-sign", "local_part_too_long"),
    ("The email address is too long after the @-sign", "domain_too_long"),
    ("The email address is too long", "too_long"),
    ("The email address contains invalid characters before", "local_part_invalid_characters"),
    ("The email address contains invalid characters in quotes", "local_part_invalid_characters"),
    ("The email address contains an invalid character.", "local_part_invalid_characters"),
    ("Internationalized characters before the @-sign", "local_part_invalid_characters"),
    ("The email address is not valid ASCII.", "local_part_invalid_characters"),
    ("The email address contains unsafe characters", "unsafe_characters"),
    ("Quoting the part before the @-sign", "quoted_local_part"),
    ("Extra character(s) found after close quote", "quote_syntax"),
    ("A display name and angle brackets", "display_name"),
    ("The display name contains invalid characters", "display_name"),
    ("An open angle bracket", "display_name"),
    ("There can't be anything after the email address.", "display_name"),
    ("A bracketed IP address", "domain_literal"),
    ("The address in brackets", "domain_literal"),
    ("The IPv6 address in brackets", "domain_literal"),
    ("The part after the @-sign in brackets", "domain_literal"),
    ("The part after the @-sign contains invalid characters in brackets", "domain_literal"),
    ("The part after the @-sign contains an invalid address literal tag", "domain_literal"),
    ("The part after the @-sign contains invalid characters", "domain_invalid_characters"),
    ("The email address contains invalid characters after the @-sign", "domain_invalid_characters"),
    (MSG_TWO_PERIODS, "period_placement"),
    (MSG_LOCAL_START_PERIOD, "period_placement"),
    (MSG_LOCAL_END_PERIOD, "period_placement"),
    (MSG_DOMAIN_START_PERIOD, "period_placement"),
    (MSG_DOMAIN_END_PERIOD, "period_placement"),
    (MSG_DOMAIN_START_HYPHEN, "hyphen_placement"),
    (MSG_DOMAIN_END_HYPHEN, "hyphen_placement"),
    (MSG_PERIOD_HYPHEN, "hyphen_placement"),
    (MSG_RLDH, "hyphen_placement"),
    ("After the @-sign, periods cannot be separated", "domain_label_too_long"),
    (MSG_NO_PERIOD, "domain_missing_period"),
    (MSG_BAD_TLD, "domain_invalid_tld"),
    (MSG_SPECIAL_USE, "special_use_domain"),
    ("The part after the @-sign is not valid IDNA", "domain_invalid"),
    ("The part after the @-sign is invalid", "domain_invalid"),
    ("The part after the @-sign became invalid", "domain_invalid"),
)  # fmt: skip


def reason_for_error(error: str | None, *, empty: bool = False) -> str | None:
    """The ``REASON_CLASSES`` code for an email-validator message (None when valid).

    ``empty`` marks a null or (after pre-cleaning) empty value, which is class ``empty``.
    """
    if error is None:
        return None
    if empty:
        return "empty"
    error = error.removeprefix("After Unicode normalization: ")
    for prefix, reason in _REASON_PREFIXES:
        if error.startswith(prefix):
            return reason
    return "other"


# ------------------------------------------------------ email-validator calls

Verdict = tuple[str | None, str | None, str | None, str | None]
"""(normalized, error, domain, ascii_domain); exactly one of normalized and error is set."""


def _ev_one(address: str) -> Verdict:
    try:
        v = validate_email(address, **EV_OPTIONS)
    except EmailNotValidError as e:
        return None, str(e), None, None
    return v.normalized, None, v.domain, v.ascii_domain


def _ev_chunk(addresses: list[str]) -> list[Verdict]:
    """The pool's task: one chunk of addresses through email-validator."""
    return [_ev_one(a) for a in addresses]


_PARALLEL_MIN: Final = 4000  # fewer residue rows than this are cheaper in-process (~0.2 s)
_WARM_MIN: Final = 200_000  # batches this large start the pool while polars works
_executor: ProcessPoolExecutor | None = None
_executor_workers = 0
_executor_lock = threading.RLock()


def _shutdown_executor() -> None:
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor.shutdown(wait=False, cancel_futures=True)
            _executor = None


atexit.register(_shutdown_executor)


def _get_executor(workers: int) -> ProcessPoolExecutor:
    """One pool per process, reused across calls. forkserver, not fork: polars' threads
    make fork unsafe; the fork server preloads this module, so workers start warm."""
    global _executor, _executor_workers
    with _executor_lock:
        if _executor is None or _executor_workers != workers:
            _shutdown_executor()
            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload([__name__])
            else:
                ctx = mp.get_context("spawn")
            _executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=_exit_with_run,
                initargs=(os.getpid(),),
            )
            _executor_workers = workers
            # Starting the processes blocks for ~0.4 s (fork server start-up): do it now,
            # under the lock, so a caller never gets a pool that is still booting.
            for future in [_executor.submit(_noop) for _ in range(workers)]:
                future.result()
        return _executor


def _warm_executor(workers: int) -> None:
    """Start the pool in a background thread while polars works on the fast path."""

    def start() -> None:
        with contextlib.suppress(BrokenProcessPool, OSError):  # _ev_batch falls back
            _get_executor(workers)

    threading.Thread(target=start, name="listhygiene-email-pool", daemon=True).start()


def _noop() -> None:
    return None


def _exit_with_run(run_pid: int) -> None:
    """In each worker: leave when the run that started the pool is gone. A run killed
    with SIGKILL cannot shut its pool down, and a worker left behind would keep the
    run's stdout and stderr open (a scheduler or a pipe would wait for them)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(run_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # alive, another user's process: keep going
                pass

    threading.Thread(target=watch, name="listhygiene-run-watch", daemon=True).start()


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _ev_batch(addresses: list[str], workers: int) -> list[Verdict]:
    """email-validator on each address, in order; spread over processes when worth it."""
    if not addresses:
        return []
    if workers <= 1 or len(addresses) < _PARALLEL_MIN:
        return _ev_chunk(addresses)
    size = max(500, -(-len(addresses) // (workers * 4)))
    chunks = [addresses[i : i + size] for i in range(0, len(addresses), size)]
    try:
        results = list(_get_executor(workers).map(_ev_chunk, chunks))
    except (BrokenProcessPool, OSError):  # a killed worker or no processes: stay correct
        _shutdown_executor()
        return _ev_chunk(addresses)
    return [v for chunk in results for v in chunk]


def _verdict_frame(key: str, values: list[str], addresses: list[str], workers: int) -> pl.DataFrame:
    verdicts = _ev_batch(addresses, workers)
    return pl.DataFrame(
        {
            key: values,
            "ev_email": [v[0] for v in verdicts],
            "ev_error": [v[1] for v in verdicts],
            "ev_domain": [v[2] for v in verdicts],
            "ev_ascii_domain": [v[3] for v in verdicts],
        },
        schema={
            key: pl.String,
            "ev_email": pl.String,
            "ev_error": pl.String,
            "ev_domain": pl.String,
            "ev_ascii_domain": pl.String,
        },
    )


# ------------------------------------------------------------- the fast path


# Character sets taken from the library's own regular expressions (rfc_constants.py).
_ASCII: Final = "".join(map(chr, range(128)))
_ATEXT: Final = _class(ord(c) for c in _ASCII if DOT_ATOM_TEXT.match(c))  # a Rust class body
_LOCAL_ATOM_RE: Final = rf"^[{_ATEXT}]+(?:\.[{_ATEXT}]+)*$"  # DOT_ATOM_TEXT
# ASCII characters the per-character checks reject (syntax.py 382-388, 516-524).
_LOCAL_BAD: Final = "".join(c for c in _ASCII if not ATEXT_INTL_DOT_RE.match(c))
_DOMAIN_BAD: Final = "".join(c for c in _ASCII if not ATEXT_HOSTNAME_INTL.match(c))
_LABEL: Final = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The common valid shape: hostname labels of 1-63 characters, at least one period, the
# last character a letter. With no "--" anywhere, neither the R-LDH rule nor "xn--" applies.
_COMMON_DOMAIN_RE: Final = rf"^(?:{_LABEL}\.)+(?:[A-Za-z0-9][A-Za-z0-9-]{{0,61}})?[A-Za-z]$"
_RLDH_RE: Final = r"(?:^|\.)(?:[^x.][^.]|x[^n.])--"  # re.match(r"(?!xn)..--", label), lower case
_LONG_LABEL_RE: Final = r"[^.]{64}"
_MAILBOXES: Final = list(CASE_INSENSITIVE_MAILBOX_NAMES)
_COMMON_ADDRESS_RE: Final = rf"^[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@" + _COMMON_DOMAIN_RE.removeprefix(
    "^"
)
_ROLE_RE: Final = (
    "^(?:"
    + "|".join(re.sub("[a-z]", lambda m: f"[{m[0].upper()}{m[0]}]", name) for name in _MAILBOXES)
    + ")@"
)


def _special_use_re(special_use: Iterable[str], start: str = "^") -> str:
    """ascii_domain == d or ascii_domain.endswith("." + d), for d in SPECIAL_USE_DOMAIN_NAMES."""
    names = "|".join(re.escape(d) for d in special_use)
    return rf"(?:{start}|\.)(?:{names})$"


def _ascii_ci(pattern: str) -> str:
    """ASCII-only case-insensitive pattern: (?i) would also fold K (Kelvin) to k and ſ to s."""
    return re.sub("[A-Za-z]", lambda m: f"[{m[0].upper()}{m[0].lower()}]", pattern)


def _display_list(text: pl.Expr, bad: str) -> pl.Expr:
    """The ``", ".join(sorted({safe_character_display(c) ...}))`` of syntax.py 382-388.

    For the ASCII characters of ``bad`` that occur in ``text``: one literal search per
    candidate, in the order of their (distinct) display strings, so nothing needs
    collecting or sorting per row.
    """
    ordered = sorted(bad, key=_ASCII_DISPLAY.__getitem__)
    return pl.concat_str(
        [
            pl.when(text.str.contains(c, literal=True)).then(pl.lit(_ASCII_DISPLAY[c]))
            for c in ordered
        ],
        separator=", ",
        ignore_nulls=True,
    )


def _too_many(diff: pl.Expr, unit: str = "character") -> pl.Expr:
    """get_length_reason (syntax.py 208): "(N character(s) too many)"."""
    return pl.format(
        "({} {}{} too many)",
        diff,
        pl.lit(unit),
        pl.when(diff > 1).then(pl.lit("s")).otherwise(pl.lit("")),
    )


def _is_ascii(e: pl.Expr) -> pl.Expr:
    return e.str.len_bytes() == e.str.len_chars()


def _with_role_lowercase(local: pl.Expr) -> pl.Expr:
    """validate_email.py 149-154; only ASCII local parts have an ascii_local_part."""
    lower = local.str.to_lowercase()
    return pl.when(_is_ascii(local) & lower.is_in(_MAILBOXES)).then(lower).otherwise(local)


@functools.cache
def _intl_local_res() -> tuple[str, str]:
    """(dot-atom of ATEXT and safe non-ASCII characters, a leading combining mark).

    Safe means what check_unsafe_chars (syntax.py 399-448) lets through in an unquoted
    local part: categories L, N, P, S anywhere and M after the first position, taken from
    this Python's own unicodedata, which email-validator uses too. Code points from U+40000
    up (tags, variation selectors, private use, unassigned) are left to email-validator.
    """
    allowed: list[int] = []
    marks: list[int] = []
    for cp in range(0x80, 0x40000):
        major = unicodedata.category(chr(cp))[0]
        if major in "LNPSM":
            allowed.append(cp)
            if major == "M":
                marks.append(cp)
    chars = _ATEXT + _class(allowed)
    return rf"^[{chars}]+(?:\.[{chars}]+)*$", f"^[{_class(marks)}]"


@dataclass(frozen=True)
class _RestPlan:
    """The rule chain for the rows stage 1 did not settle, as polars expressions."""

    columns: tuple[list[pl.Expr], list[pl.Expr]]  # intermediates, computed once
    first: pl.Expr  # the number of the first rule that holds; len(rules) = valid
    kinds: dict[int, str]
    constant: dict[int, str]  # rule -> message
    formatted: dict[int, pl.Expr]  # rule -> message built from the row
    email: pl.Expr


@functools.cache
def _rest_plan(special_use: tuple[str, ...]) -> _RestPlan:
    """Built once per special-use list: building ~200 expressions costs more than a small batch."""
    s, local, dom = pl.col("s"), pl.col("local"), pl.col("dom")
    intl_atom_re, leading_mark_re = _intl_local_res()
    step1 = [
        _is_ascii(local).alias("local_ascii"),
        (~local.str.contains(r'["<]')).alias("local_simple"),
        local.str.contains(f"[{_class(map(ord, _LOCAL_BAD))}]").alias("local_bad"),
        dom.str.contains(f"[{_class(map(ord, _DOMAIN_BAD))}]").alias("dom_bad"),
        dom.str.to_lowercase().alias("dl"),  # = uts46_remap for an ASCII [A-Za-z0-9.-] domain
        dom.str.len_chars().cast(pl.Int64).alias("dom_len"),
        s.str.len_bytes().cast(pl.Int64).alias("s_bytes"),
    ]
    step2 = [
        # A non-ASCII dot-atom that is safe and already NFC is valid as it is (syntax.py
        # 291-370, validate_email.py 127-137); any NFC change goes to email-validator.
        pl.when(pl.col("local_ascii"))
        .then(local.str.contains(_LOCAL_ATOM_RE))
        .otherwise(
            local.str.contains(intl_atom_re)
            & ~local.str.contains(leading_mark_re)
            & (local.str.normalize("NFC") == local)
        )
        .alias("local_atom"),
    ]
    local_ascii, local_atom, dl = pl.col("local_ascii"), pl.col("local_atom"), pl.col("dl")
    local_bad, dom_bad, dom_len = pl.col("local_bad"), pl.col("dom_bad"), pl.col("dom_len")
    s_bytes = pl.col("s_bytes")

    # (condition, kind, error) in email-validator's order; the first true one decides.
    rules: list[tuple[pl.Expr, str, str | pl.Expr | None]] = [
        (s.is_null(), "error", MSG_EMPTY),
        (
            ~s.str.contains("@", literal=True) & ~s.str.contains("<", literal=True),
            "error",
            pl.when(s.str.contains("＠", literal=True))
            .then(pl.lit(MSG_FULLWIDTH_AT))
            .when(s.str.contains("﹫", literal=True))
            .then(pl.lit(MSG_SMALL_AT))
            .otherwise(pl.lit(MSG_NO_AT)),
        ),
        (dom.is_null(), "residue", None),  # a "<" without "@": display-name parsing
        (local == "", "error", MSG_LOCAL_EMPTY),
        (~pl.col("local_simple"), "residue", None),  # quotes, or "<" before the first "@"
        (~local_atom & ~local_ascii, "residue", None),
        # An ASCII local part that is not a dot-atom (syntax.py 382-396).
        (
            ~local_atom & local_bad,
            "error",
            pl.lit(MSG_LOCAL_BAD_PREFIX) + _display_list(local, _LOCAL_BAD) + pl.lit("."),
        ),
        (~local_atom & local.str.ends_with("."), "error", MSG_LOCAL_END_PERIOD),
        (~local_atom & local.str.starts_with("."), "error", MSG_LOCAL_START_PERIOD),
        (~local_atom & local.str.contains("..", literal=True), "error", MSG_TWO_PERIODS),
        (~local_atom, "residue", None),  # unreachable: the library's own fallback
        # The local part is a valid dot-atom: the domain decides.
        (dom == "", "error", MSG_DOMAIN_EMPTY),
        (dom.str.starts_with("[") & dom.str.ends_with("]"), "probe", None),
        (
            dom_len > 253,
            "error",
            pl.lit("The email address is too long after the @-sign ")
            + _too_many(dom_len - 253)
            + pl.lit("."),
        ),
        (
            dom_bad,
            "error",
            pl.lit(MSG_DOMAIN_BAD_PREFIX) + _display_list(dom, _DOMAIN_BAD) + pl.lit("."),
        ),
        (~_is_ascii(dom), "probe", None),
        # ASCII letters, digits, "." and "-" only (syntax.py 551-668).
        (dl.str.ends_with("."), "error", MSG_DOMAIN_END_PERIOD),
        (dl.str.starts_with("."), "error", MSG_DOMAIN_START_PERIOD),
        (dl.str.contains("..", literal=True), "error", MSG_TWO_PERIODS),
        (dl.str.ends_with("-"), "error", MSG_DOMAIN_END_HYPHEN),
        (dl.str.starts_with("-"), "error", MSG_DOMAIN_START_HYPHEN),
        (
            dl.str.contains(".-", literal=True) | dl.str.contains("-.", literal=True),
            "error",
            pl.lit(MSG_PERIOD_HYPHEN),
        ),
        (dl.str.contains(_RLDH_RE), "error", MSG_RLDH),
        (dl.str.contains(_LONG_LABEL_RE), "probe", None),
        (~dl.str.contains(".", literal=True), "error", MSG_NO_PERIOD),
        (~dl.str.contains("[a-z]$"), "error", MSG_BAD_TLD),
        (dl.str.contains(_special_use_re(special_use)), "error", MSG_SPECIAL_USE),
        (dl.str.contains("xn--", literal=True), "probe", None),
        # The original, normalized and ASCII forms all have the bytes of s here.
        (
            (s_bytes > 254) & _is_ascii(s),
            "error",
            pl.lit("The email address is too long ") + _too_many(s_bytes - 254) + pl.lit("."),
        ),
        (s_bytes > 254, "residue", None),  # the message would count characters per byte
    ]
    first: Any = pl.when(rules[0][0]).then(pl.lit(0))
    for n, (cond, _, _) in enumerate(rules[1:], start=1):
        first = first.when(cond).then(pl.lit(n))
    return _RestPlan(
        columns=(step1, step2),
        first=first.otherwise(pl.lit(len(rules))),
        kinds={n: k for n, (_, k, _) in enumerate(rules)} | {len(rules): "valid"},
        constant={n: m for n, (_, _, m) in enumerate(rules) if isinstance(m, str)},
        formatted={n: m for n, (_, _, m) in enumerate(rules) if isinstance(m, pl.Expr)},
        email=pl.when(pl.col("rule") == len(rules)).then(
            _with_role_lowercase(local) + pl.lit("@") + dl
        ),
    )


def _decide_rest(rest: pl.DataFrame) -> pl.DataFrame:
    """Rules for the rows stage 1 did not settle (columns i, s, local, dom).

    Returns them with kind ("error" | "valid" | "probe" | "residue"), error and email.
    Constant messages come by lookup, formatted ones are built only on their rows.
    """
    plan = _rest_plan(tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES))
    rest = (
        rest.with_columns(plan.columns[0])  # eager selects do not share subexpressions
        .with_columns(plan.columns[1])
        .with_columns(rule=plan.first)
    )
    rule = pl.col("rule")
    rest = rest.with_columns(
        kind=rule.replace_strict(plan.kinds, return_dtype=pl.String),
        error=rule.replace_strict(plan.constant, default=None, return_dtype=pl.String),
        email=plan.email,
    )
    error = rest.get_column("error").clone()
    rule_values = rest.get_column("rule")
    for n, msg in plan.formatted.items():
        if (rows := (rule_values == n).arg_true()).len():
            error.scatter(rows, rest[rows].select(msg).to_series())
    return rest.with_columns(error)


def _compose_probes(probe_rows: pl.DataFrame, workers: int) -> pl.DataFrame:
    """Rows whose domain a per-domain probe settles (see the module docstring)."""
    domains = probe_rows.get_column("dom").unique().to_list()
    verdicts = _verdict_frame("dom", domains, ["a@" + d for d in domains], workers)
    err = pl.col("ev_error")
    length_error = err.str.starts_with("The email address is too long") & ~err.str.starts_with(
        "The email address is too long after the @-sign"
    )
    local_len = pl.col("local").str.len_bytes().cast(pl.Int64)  # = the NFC local part's
    original = pl.col("s").str.len_bytes().cast(pl.Int64)
    normalized = local_len + 1 + pl.col("ev_domain").str.len_bytes()
    ascii_form = local_len + 1 + pl.col("ev_ascii_domain").str.len_bytes()
    too_long_ascii = (original > 254) & _is_ascii(pl.col("s"))
    fits = (original <= 254) & (normalized <= 254) & (ascii_form <= 254)
    return (
        probe_rows.join(verdicts, on="dom", how="left")
        .with_columns(
            kind=pl.when(err.is_not_null() & ~length_error)
            .then(pl.lit("error"))
            .when(err.is_not_null())
            .then(pl.lit("residue"))
            .when(fits)
            .then(pl.lit("valid"))
            .when(too_long_ascii)
            .then(pl.lit("error"))
            .otherwise(pl.lit("residue")),
        )
        .with_columns(
            error=pl.when(pl.col("kind") != "error")
            .then(pl.lit(None, pl.String))
            .when(err.is_not_null())
            .then(err)
            .otherwise(
                pl.lit("The email address is too long ") + _too_many(original - 254) + pl.lit(".")
            ),
            email=pl.when(pl.col("kind") == "valid").then(
                _with_role_lowercase(pl.col("local")) + pl.lit("@") + pl.col("ev_domain")
            ),
        )
        .select("i", "s", "kind", "error", "email")
    )


def _decide(cleaned: pl.Series, workers: int) -> pl.DataFrame:
    """valid, email, error and decided_by for each cleaned value."""
    frame = pl.DataFrame({"s": cleaned}).with_row_index("i")
    if email_validator.__version__ not in FAST_PATH_VERSIONS:
        null = pl.col("s").is_null()
        rest = frame.with_columns(
            kind=pl.when(null).then(pl.lit("error")).otherwise(pl.lit("residue")),
            error=pl.when(null).then(pl.lit(MSG_EMPTY)),
            email=pl.lit(None, pl.String),
        )
        fast = frame.with_columns(fast=pl.lit(False), email=pl.lit(None, pl.String))
        return _assemble(len(cleaned), fast, rest, workers)

    s = pl.col("s")
    # Stage 1, on every row: the common valid shape in one regex over the whole value.
    fast = (
        s.str.contains(_COMMON_ADDRESS_RE)
        & ~s.str.contains("--", literal=True)
        & (s.str.len_bytes() <= 254)
        & ~s.str.contains(_ascii_ci(_special_use_re(email_validator.SPECIAL_USE_DOMAIN_NAMES, "@")))
    ).fill_null(False)
    # The normalized form is the value itself unless the domain has capitals or the local
    # part is a role mailbox; those few rows are rebuilt below.
    stage1 = frame.select("i", fast.alias("fast"), "s").select(
        "i",
        "fast",
        pl.when("fast").then(s).alias("email"),
        (pl.col("fast") & (s.str.contains("@.*[A-Z]") | s.str.contains(_ROLE_RE))).alias("rebuild"),
    )
    rebuild = frame.filter(stage1.get_column("rebuild"))
    if rebuild.height:
        rebuilt = _split(rebuild).select(
            _with_role_lowercase(pl.col("local")) + pl.lit("@") + pl.col("dom").str.to_lowercase()
        )
        email = stage1.get_column("email").clone()
        email.scatter(rebuild.get_column("i"), rebuilt.to_series())
        stage1 = stage1.with_columns(email)
    rest = _decide_rest(_split(frame.filter(~stage1.get_column("fast"))))
    return _assemble(len(cleaned), stage1, rest, workers)


def _split(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``local`` (before the first @) and ``dom`` (after it; null without an @)."""
    parts = pl.col("s").str.splitn("@", 2)
    return frame.with_columns(
        local=parts.struct.field("field_0"), dom=parts.struct.field("field_1")
    )


def _assemble(n: int, fast: pl.DataFrame, rest: pl.DataFrame, workers: int) -> pl.DataFrame:
    """Settle probes and residue, then scatter the non-fast rows into the fast columns."""
    probes = rest.filter(pl.col("kind") == "probe")
    rest = rest.select("i", "s", "kind", "error", "email", probed=pl.lit(False))
    if probes.height:
        composed = _compose_probes(probes, workers).with_columns(probed=pl.lit(True))
        rest = pl.concat([rest.filter(pl.col("kind") != "probe"), composed])
    residue = rest.filter(pl.col("kind") == "residue")
    decided = rest.filter(pl.col("kind") != "residue").with_columns(
        decided_by=pl.when(pl.col("probed")).then(pl.lit("domain_probe")).otherwise(pl.lit("fast"))
    )
    values = residue.get_column("s").unique().to_list()
    verdicts = _verdict_frame("s", values, values, workers)
    residue = residue.join(verdicts, on="s", how="left").with_columns(
        error=pl.col("ev_error"), email=pl.col("ev_email"), decided_by=pl.lit("email_validator")
    )
    rest = pl.concat(
        [decided.select("i", "error", "email", "decided_by"),
         residue.select("i", "error", "email", "decided_by")]
    )  # fmt: skip

    valid = fast.get_column("fast").clone()
    email = fast.get_column("email").clone()
    error = pl.Series("error", [None], dtype=pl.String).new_from_index(0, n)
    decided_by = pl.Series("decided_by", ["fast"], dtype=pl.String).new_from_index(0, n)
    if rest.height:
        idx = rest.get_column("i")
        valid.scatter(idx, rest.get_column("error").is_null())
        email.scatter(idx, rest.get_column("email"))
        error.scatter(idx, rest.get_column("error"))
        decided_by.scatter(idx, rest.get_column("decided_by"))
    return pl.DataFrame({"valid": valid, "email": email, "error": error, "decided_by": decided_by})


def _email_key(email: pl.Series) -> pl.Series:
    """email.lower() with Python semantics: polars for ASCII, Python for the rest."""
    key = email.str.to_lowercase().alias("email_key")
    non_ascii = email.str.len_bytes() != email.str.len_chars()
    idx = non_ascii.arg_true()
    if len(idx):
        lowered = [e.lower() for e in email.gather(idx).to_list()]
        key.scatter(idx, pl.Series(lowered, dtype=pl.String))
    return key


def _reasons(error: pl.Series, empty: pl.Series) -> pl.Series:
    mapping = {e: reason_for_error(e) for e in error.drop_nulls().unique().to_list()}
    reason = error.replace_strict(mapping, default=None, return_dtype=pl.String)
    return (
        pl.select(pl.when(empty & error.is_not_null()).then(pl.lit("empty")).otherwise(reason))
        .to_series()
        .alias("reason")
    )


# ---------------------------------------------------------------- public API


def validate_emails(
    raw: pl.Series, *, workers: int | None = None, preclean: bool = True
) -> pl.DataFrame:
    """Pre-clean and validate a column of addresses; one output row per input row, in order.

    Columns: ``input``, ``cleaned``, ``fixes`` (List[String]), ``valid``, ``email``,
    ``email_key``, ``error``, ``reason``, ``decided_by`` (``fast``, ``domain_probe`` or
    ``email_validator``, see the module docstring).
    ``preclean=False`` validates the raw values as they are (``cleaned`` = ``input``, no
    fixes). ``workers`` (default: the usable CPUs) bounds the processes email-validator
    runs in; 1 keeps everything in this process.
    """
    if raw.dtype == pl.Null:
        raw = raw.cast(pl.String)
    if raw.dtype != pl.String:
        raise TypeError(f"validate_emails needs a String series, not {raw.dtype}")
    workers = _default_workers() if workers is None else max(1, workers)
    if workers > 1 and len(raw) >= _WARM_MIN:
        _warm_executor(workers)

    if preclean:
        cleaned, fixes = _preclean(raw)
    else:
        cleaned = raw.alias("cleaned")
        fixes = pl.Series("fixes", [[]], dtype=pl.List(pl.String)).new_from_index(0, len(raw))
    verdicts = _decide(cleaned, workers)
    error = verdicts.get_column("error")
    empty = cleaned.is_null() | (cleaned == "")
    return pl.DataFrame(
        {
            "input": raw.alias("input"),
            "cleaned": cleaned.alias("cleaned"),
            "fixes": fixes.alias("fixes"),
            "valid": verdicts.get_column("valid"),
            "email": verdicts.get_column("email"),
            "email_key": _email_key(verdicts.get_column("email")),
            "error": error,
            "reason": _reasons(error, empty.fill_null(True)),
            "decided_by": verdicts.get_column("decided_by"),
        }
    )


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_emails(
    addresses: Iterable[str | None], *, preclean: bool = True, workers: int | None = None
) -> list[dict[str, Any]]:
    """``check_email`` for many addresses at once, in order.

    Values polars cannot hold (lone surrogates, e.g. from undecodable command-line bytes)
    are pre-cleaned by ``preclean_one`` and validated by email-validator directly.
    """
    values = list(addresses)
    ok = [v is None or _encodable(v) for v in values]
    frame = validate_emails(
        pl.Series([v for v, good in zip(values, ok, strict=True) if good], dtype=pl.String),
        workers=workers,
        preclean=preclean,
    )
    rows = iter(frame.iter_rows(named=True))
    out: list[dict[str, Any]] = []
    for value, good in zip(values, ok, strict=True):
        if good:
            row = next(rows)
        else:
            assert value is not None
            cleaned, fixes = preclean_one(value) if preclean else (value, [])
            email, error, _, _ = _ev_one(cleaned)
            row = {
                "input": value,
                "valid": error is None,
                "email": email,
                "email_key": email.lower() if email is not None else None,
                "error": error,
                "reason": reason_for_error(error, empty=cleaned == ""),
                "fixes": fixes,
            }
        out.append({k: row[k] for k in _CHECK_KEYS})
    return out


_CHECK_KEYS: Final = ("input", "valid", "email", "email_key", "error", "reason", "fixes")


def check_email(address: str | None, *, preclean: bool = True) -> dict[str, Any]:
    """One verdict: ``{input, valid, email, email_key, error, reason, fixes}``."""
    return check_emails([address], preclean=preclean, workers=1)[0]
