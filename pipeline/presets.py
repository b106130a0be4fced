"""Header presets: which platform wrote a contact export, and how its columns map.

A preset is data (`rules/presets/NAME.toml`, parsed by `parse_preset`). This
module only interprets it: `detect_preset` picks one from the header,
`map_columns` turns a RawTable into the canonical text columns, and
`split_tags_expr` turns a preset's raw tags cell into a list. Values stay raw
text: normalising them is the next stage's job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import polars as pl

from .errors import InputFileError
from .ingest.table import ROW, RawTable

# The canonical fields a preset can fill, in the order of MappedTable.frame.
CANONICAL = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "tags",
    "source",
    "status",
    "status_reason",
    "status_changed_at",
    "created_at",
    "last_changed",
    "external_id",
    "social_profiles",
    "custom_fields",
)
OUTPUT_COLUMNS = ("source_file", "source_row", *CANONICAL)
JSON_FIELDS = ("social_profiles", "custom_fields")  # cells hold JSON objects to merge
COMBINES = ("first", "coalesce", "join")
TAG_FORMATS = ("quoted", "delimited")
DATE_ORDERS = ("DMY", "MDY", "YMD")
TOP_KEYS = ("description", "detect", "fields", "status", "tags", "social", "ignore", "date_order")
RULE_TESTS = ("present", "not_empty", "in", "matches")

EMAIL_SAMPLE_ROWS = 1000  # rows looked at when no header names the email column
EMAIL_SAMPLE_SHARE = 0.5  # share of those rows that must hold an address
# An address, optionally as `Name <addr>` or `mailto:addr` (the forms pre-cleaning accepts).
_EMAIL_LIKE = r"^\s*(?:mailto:)?(?:[^<>]*<)?[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>?\s*[.,;]?\s*$"
_SEP = "\x1f"  # unit separator: never in real tag text, so safe to split on
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class FieldSpec:
    """Where one canonical field comes from: header aliases and how to combine them."""

    columns: tuple[str, ...]
    combine: str = "first"  # first: first alias present | coalesce: first non-empty | join
    separator: str = " "  # only for join


@dataclass(frozen=True)
class StatusRule:
    """`status = value` (or the cell of `value_from`) on rows where the condition holds."""

    value: str | None = None
    value_from: str | None = None
    file_name: str | None = None  # glob on the file's base name, case-insensitive
    column: str | None = None
    test: str | None = None  # present | not_empty | in | matches
    values: tuple[str, ...] = ()  # for `in`, compared trimmed and case-insensitively
    pattern: str = ""  # for `matches`, a regular expression searched in the cell


@dataclass(frozen=True)
class Preset:
    """One parsed `rules/presets/NAME.toml`: how to recognise and map one platform's export."""

    name: str
    description: str
    fields: dict[str, FieldSpec]
    detect_columns: tuple[str, ...] = ()  # exact header names that identify the platform
    min_matches: int = 1
    status_rules: tuple[StatusRule, ...] = ()
    tag_format: str = "delimited"
    tag_separators: tuple[str, ...] = (";", "|", ",")
    social: dict[str, tuple[str, ...]] = field(default_factory=dict)  # network -> aliases
    ignore: tuple[str, ...] = ()  # headers dropped on purpose
    date_order: str | None = None  # hint for the normalise stage on numeric dates
    where: str = ""  # the file it was read from


@dataclass
class MappedTable:
    """One input file in canonical columns (all String but Int64 `source_row`)."""

    source_file: str
    preset: str
    email_column: str
    column_map: dict[str, str]  # canonical field -> the (first) header it was read from
    column_sources: dict[str, tuple[str, ...]]  # canonical field -> every header feeding it
    custom_columns: tuple[str, ...]  # headers kept as keys of custom_fields
    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- parsing


def parse_preset(name: str, data: dict[str, Any], where: str, problems: list[str]) -> Preset | None:
    """Validate one preset document; append every problem to `problems`, None if unusable."""
    before = len(problems)

    def bad(msg: str) -> None:
        problems.append(f"{where}: {msg}")

    if not _NAME_RE.match(name):
        bad(
            f"the preset name {name!r} (the file name) must use lower-case letters, digits, "
            "'_' and '-' only; rename the file."
        )
    for key in sorted(set(data) - set(TOP_KEYS)):
        bad(f"unknown key `{key}`; a preset has only {', '.join(TOP_KEYS)}.")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        bad("`description` must be a non-empty string saying which export the preset reads.")
        description = ""

    fields = _parse_fields(data.get("fields"), bad)
    detect_columns, min_matches = _parse_detect(data.get("detect"), bad)
    rules = _parse_status(data.get("status", []), bad)
    tag_format, separators = _parse_tags(data.get("tags", {}), bad)
    social = _parse_social(data.get("social", {}), bad)
    ignore = _str_list(data.get("ignore", []), "ignore", bad, allow_empty=True)
    date_order = data.get("date_order")
    if date_order is not None and date_order not in DATE_ORDERS:
        bad(f"`date_order` must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}.")

    if len(problems) > before:
        return None
    return Preset(
        name=name,
        description=description,
        fields=fields,
        detect_columns=detect_columns,
        min_matches=min_matches,
        status_rules=rules,
        tag_format=tag_format,
        tag_separators=separators,
        social=social,
        ignore=ignore,
        date_order=date_order,
        where=where,
    )


def _str_list(v: Any, key: str, bad: Any, allow_empty: bool = False) -> tuple[str, ...]:
    ok = isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)
    if not ok or (not v and not allow_empty):
        bad(f"`{key}` must be a list of non-empty strings (header names), not {v!r}.")
        return ()
    return tuple(v)


def _parse_fields(v: Any, bad: Any) -> dict[str, FieldSpec]:
    if not isinstance(v, dict):
        bad("missing table [fields]; it maps canonical fields such as email to header names.")
        return {}
    out: dict[str, FieldSpec] = {}
    for key, spec in v.items():
        where = f"fields.{key}"
        if key not in CANONICAL:
            bad(f"[fields] has unknown field `{key}`; the fields are {', '.join(CANONICAL)}.")
            continue
        if isinstance(spec, list):
            cols = _str_list(spec, where, bad)
            out[key] = FieldSpec(cols)
            continue
        if not isinstance(spec, dict):
            bad(f"`{where}` must be a list of header names or a table with `columns`.")
            continue
        for extra in sorted(set(spec) - {"columns", "combine", "separator"}):
            bad(f"unknown key `{where}.{extra}`; use columns, combine and separator.")
        cols = _str_list(spec.get("columns"), f"{where}.columns", bad)
        combine = spec.get("combine", "first")
        if combine not in COMBINES:
            bad(f"`{where}.combine` must be one of {', '.join(COMBINES)}, not {combine!r}.")
        elif combine == "join" and key in JSON_FIELDS:
            bad(f"`{where}.combine` cannot be join: {key} cells are JSON objects.")
        separator = spec.get("separator", " ")
        if not isinstance(separator, str):
            bad(f"`{where}.separator` must be a string, not {separator!r}.")
        elif "separator" in spec and combine != "join":
            bad(f'`{where}.separator` is only used with combine = "join"; remove it.')
        out[key] = FieldSpec(cols, combine if isinstance(combine, str) else "first", str(separator))
    if "email" not in v:
        bad("[fields] must list `email`, the headers that can hold the address.")
    return out


def _parse_detect(v: Any, bad: Any) -> tuple[tuple[str, ...], int]:
    if v is None:
        return (), 1  # never detected: used as the fallback or with --preset only
    if not isinstance(v, dict):
        bad("[detect] must be a table with `columns` and `min_matches`.")
        return (), 1
    for extra in sorted(set(v) - {"columns", "min_matches"}):
        bad(f"unknown key `detect.{extra}`; use columns and min_matches.")
    cols = _str_list(v.get("columns"), "detect.columns", bad)
    n = v.get("min_matches", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        bad(f"`detect.min_matches` must be a whole number of at least 1, not {n!r}.")
        return cols, 1
    if cols and n > len(set(cols)):
        bad(
            f"`detect.min_matches` is {n} but `detect.columns` lists only {len(set(cols))} headers."
        )
    return cols, n


def _parse_status(v: Any, bad: Any) -> tuple[StatusRule, ...]:
    if not isinstance(v, list) or not all(isinstance(r, dict) for r in v):
        bad("`status` must be an array of tables ([[status]] blocks).")
        return ()
    rules = []
    allowed = {"file_name", "column", "value", "value_from", *RULE_TESTS}
    for i, r in enumerate(v, 1):
        where = f"[[status]] rule {i}"
        for extra in sorted(set(r) - allowed):
            bad(f"{where} has unknown key `{extra}`; use {', '.join(sorted(allowed))}.")
        for key in ("file_name", "column", "value", "value_from"):
            if key in r and (not isinstance(r[key], str) or not r[key]):
                bad(f"{where}: `{key}` must be a non-empty string, not {r[key]!r}.")
        if "file_name" not in r and "column" not in r:
            bad(f"{where} needs a condition: `file_name`, or `column` with a test.")
        if ("value" in r) == ("value_from" in r):
            bad(f"{where} needs exactly one of `value` and `value_from`.")
        tests = [t for t in RULE_TESTS if t in r]
        if "column" in r and len(tests) != 1:
            bad(f"{where}: `column` needs exactly one test of {', '.join(RULE_TESTS)}.")
        if "column" not in r and tests:
            bad(f"{where}: `{tests[0]}` tests a cell, so the rule needs `column`.")
        test = tests[0] if len(tests) == 1 else None
        if test in ("present", "not_empty") and r[test] is not True:
            bad(f"{where}: `{test}` can only be true.")
        values: tuple[str, ...] = ()
        if test == "in":
            values = _str_list(r["in"], f"{where}: in", bad)
        pattern = r.get("matches", "")
        if test == "matches":
            if not isinstance(pattern, str) or not pattern:
                bad(f"{where}: `matches` must be a non-empty regular expression.")
            else:
                try:  # polars' own regex engine decides what is valid
                    pl.Series([""]).str.contains(pattern)
                except pl.exceptions.ComputeError:
                    bad(f"{where}: `matches` {pattern!r} is not a valid regular expression.")
        rules.append(
            StatusRule(
                value=r.get("value"),
                value_from=r.get("value_from"),
                file_name=r.get("file_name"),
                column=r.get("column"),
                test=test,
                values=values,
                pattern=pattern if isinstance(pattern, str) else "",
            )
        )
    return tuple(rules)


def _parse_tags(v: Any, bad: Any) -> tuple[str, tuple[str, ...]]:
    default = (";", "|", ",")
    if not isinstance(v, dict):
        bad("[tags] must be a table with `format` (and `separators` for delimited).")
        return "delimited", default
    for extra in sorted(set(v) - {"format", "separators"}):
        bad(f"unknown key `tags.{extra}`; use format and separators.")
    fmt = v.get("format", "delimited")
    if fmt not in TAG_FORMATS:
        bad(f"`tags.format` must be one of {', '.join(TAG_FORMATS)}, not {fmt!r}.")
        fmt = "delimited"
    if "separators" in v and fmt != "delimited":
        bad('`tags.separators` is only used with format = "delimited"; remove it.')
    seps = v.get("separators", list(default))
    if not isinstance(seps, list) or not seps or not all(isinstance(s, str) and s for s in seps):
        bad(f"`tags.separators` must be a list of non-empty strings, not {seps!r}.")
        seps = list(default)
    return fmt, tuple(seps)


def _parse_social(v: Any, bad: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(v, dict):
        bad("[social] must map network names (linkedin, twitter, …) to header names.")
        return {}
    return {k: _str_list(cols, f"social.{k}", bad) for k, cols in v.items()}


# --------------------------------------------------------------------------- detection


def detect_preset(
    columns: list[str],
    source_file: str,
    presets: dict[str, Preset],
    forced: str | None = None,
) -> Preset:
    """The preset for a header: `forced` if given, else the best detection score, else generic.

    A preset's score is how many of its `detect.columns` are in the header
    (exact, case-sensitive names). It qualifies with at least `min_matches`;
    the highest score wins, a tie goes to the preset whose name sorts first.
    """
    if forced is not None:
        if forced in presets:
            return presets[forced]
        raise InputFileError(
            f'Unknown preset "{forced}" given with --preset; the known presets are '
            f"{', '.join(sorted(presets))}. To add one, put presets/{forced}.toml in a folder "
            "passed with --rules."
        )
    header = {c.strip().lstrip("\ufeff") for c in columns}
    best: tuple[int, Preset] | None = None
    for name in sorted(presets):
        p = presets[name]
        score = len(header & set(p.detect_columns))
        if p.detect_columns and score >= p.min_matches and (best is None or score > best[0]):
            best = (score, p)
    if best is not None:
        return best[1]
    if "generic" not in presets:
        raise InputFileError(
            f"{source_file}: no preset matches the header and the generic preset is missing; "
            "reinstall listhygiene or pass --preset NAME."
        )
    return presets["generic"]


# --------------------------------------------------------------------------- mapping


def _norm(header: str) -> str:
    """Header comparison key: case, spaces, hyphens, underscores and a BOM do not matter."""
    return re.sub(r"[\s\-_\ufeff]+", "", header).casefold()


def find_header(headers: list[str], alias: str, taken: set[str]) -> str | None:
    """The header for an alias: an exact match first, else the first normalised match."""
    if alias in headers and alias not in taken:
        return alias
    key = _norm(alias)
    return next((h for h in headers if h not in taken and _norm(h) == key), None)


def _base_name(source_file: str) -> str:
    """`a.zip!dir/subscribed_x.csv` -> `subscribed_x.csv` (archive members included)."""
    return re.split(r"[/\\!]", source_file)[-1]


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    """Whitespace-only cells count as empty where cells are combined."""
    return pl.when(e.str.strip_chars() != "").then(e)


_JSON_ESCAPES = {"\\": "\\\\", '"': '\\"'} | {chr(i): f"\\u{i:04x}" for i in range(32)}


def json_string_expr(value: pl.Expr) -> pl.Expr:
    """A text column as JSON string literals (`a"b` -> `"a\\"b"`); null stays null."""
    escaped = value.cast(pl.String).str.replace_many(
        list(_JSON_ESCAPES), list(_JSON_ESCAPES.values())
    )
    return pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])


def _json_pair(key: str, value: pl.Expr) -> pl.Expr:
    """`"key":"value"` as JSON text; null when the value is null."""
    return pl.concat_str(
        [pl.lit(json.dumps(key, ensure_ascii=False) + ":"), json_string_expr(value)]
    )


def _object_body(parts: list[pl.Expr]) -> pl.Expr:
    """`"k":"v","k2":"v2"` from pair parts, null parts left out; null when all are null."""
    if not parts:
        return pl.lit(None, pl.String)
    body = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return pl.when(body != "").then(body)


def _sniff_email(frame: pl.DataFrame, candidates: list[str]) -> tuple[str, float] | None:
    """The column whose sampled cells look most like addresses, if enough of them do."""
    if not candidates or frame.height == 0:
        return None
    sample = frame.head(EMAIL_SAMPLE_ROWS)
    shares = sample.select(
        [pl.col(c).str.contains(_EMAIL_LIKE).fill_null(False).mean().alias(c) for c in candidates]
    ).row(0)
    best = max(range(len(candidates)), key=lambda i: (shares[i], -i))  # tie: file order
    return (candidates[best], shares[best]) if shares[best] >= EMAIL_SAMPLE_SHARE else None


def _no_email_error(source_file: str, columns: list[str]) -> InputFileError:
    shown = [c if len(c) <= 40 else c[:39] + "…" for c in columns[:10]]
    listing = ", ".join(shown) + (f" and {len(columns) - 10} more" if len(columns) > 10 else "")
    return InputFileError(
        f"{source_file}: no column can be the email address (columns: {listing}). "
        'Rename the email column to "email", pass --preset NAME, or add a preset under '
        "rules/presets/."
    )


def _rule_condition(rule: StatusRule, headers: list[str], base: str) -> pl.Expr | bool:
    """True/False when the rule does not depend on the cells, else a row condition."""
    if rule.file_name is not None and not fnmatchcase(base.lower(), rule.file_name.lower()):
        return False
    if rule.column is None:
        return True
    h = find_header(headers, rule.column, set())
    if h is None:
        return False
    if rule.test == "present":
        return True
    cell = pl.col(h).str.strip_chars()
    if rule.test == "not_empty":
        return cell.is_not_null() & (cell != "")
    if rule.test == "in":
        return cell.str.to_lowercase().is_in([v.strip().lower() for v in rule.values])
    return cell.str.contains(rule.pattern)


def _status_expr(
    preset: Preset, headers: list[str], base: str, fallback: pl.Expr, used: set[str]
) -> pl.Expr:
    """The first status rule that holds on a row gives its status, else `fallback`."""
    for rule in preset.status_rules:  # every column a rule names is consumed
        for name in (rule.column, rule.value_from):
            if name is not None and (h := find_header(headers, name, set())) is not None:
                used.add(h)
    branches: list[tuple[pl.Expr, pl.Expr]] = []
    for rule in preset.status_rules:
        cond = _rule_condition(rule, headers, base)
        if cond is False:
            continue
        if rule.value_from is not None:
            src = find_header(headers, rule.value_from, set())
            value = pl.col(src) if src is not None else pl.lit(None, pl.String)
        else:
            value = pl.lit(rule.value, pl.String)
        if cond is True:  # holds on every row: later rules can never apply
            fallback = value
            break
        branches.append((cond, value))
    if not branches:
        return fallback
    chain = pl.when(branches[0][0]).then(branches[0][1])
    for cond, value in branches[1:]:
        chain = chain.when(cond).then(value)
    return chain.otherwise(fallback)


def map_columns(table: RawTable, preset: Preset) -> MappedTable:
    """Map one RawTable to the canonical columns of `preset` (raw text, vectorized)."""
    headers = [c for c in table.columns if c != ROW]
    taken: set[str] = set()  # headers a field consumed: not copied into custom_fields
    sources: dict[str, tuple[str, ...]] = {}
    values: dict[str, pl.Expr] = {}
    warnings: list[str] = []

    for name in CANONICAL:
        spec = preset.fields.get(name)
        if spec is None:
            continue
        found: list[str] = []
        for alias in spec.columns:
            h = find_header(headers, alias, taken | set(found))
            if h is not None:
                found.append(h)
                if spec.combine == "first":
                    break
        if not found:
            continue
        sources[name] = tuple(found)
        if len(found) == 1:
            taken.add(found[0])
            values[name] = pl.col(found[0])
        elif spec.combine == "join":
            taken.update(found)
            values[name] = _joined(found, spec.separator)
        else:
            # coalesce reads later columns only where the first is empty, so only the
            # first is consumed: the others stay in custom_fields and lose nothing
            taken.add(found[0])
            values[name] = pl.coalesce([_blank_to_null(pl.col(h)) for h in found])

    if "email" not in sources:
        text = [h for h in headers if h not in taken and table.frame.schema[h] == pl.String]
        sniffed = _sniff_email(table.frame, text)
        if sniffed is None:
            raise _no_email_error(table.source_file, headers)
        h, share = sniffed
        warnings.append(
            f"{table.source_file}: no header names the email address; using column {h!r}, "
            f"where {share:.0%} of the first {min(table.frame.height, EMAIL_SAMPLE_ROWS)} "
            "rows hold an address. Pass --preset or rename the column if this is wrong."
        )
        taken.add(h)
        sources["email"] = (h,)
        values["email"] = pl.col(h)

    fallback = values.get("status", pl.lit(None, pl.String))
    values["status"] = _status_expr(preset, headers, _base_name(table.source_file), fallback, taken)

    social: list[pl.Expr] = []
    for network, aliases in preset.social.items():
        h = next((h for a in aliases if (h := find_header(headers, a, taken)) is not None), None)
        if h is not None:
            taken.add(h)
            social.append(_json_pair(network, pl.col(h)))
    for alias in preset.ignore:
        while (h := find_header(headers, alias, taken)) is not None:
            taken.add(h)
    custom_cols = tuple(h for h in headers if h not in taken)
    custom = [_json_pair(h, pl.col(h)) for h in custom_cols]

    # Built in steps, each reading the columns the step before materialised, so
    # no sub-expression is evaluated twice (this runs on million-row files).
    # Step 1: the plain fields, the object bodies of the text columns, and any
    # JSON column (compacted; null when it is not valid JSON).
    step1 = [pl.col(ROW).cast(pl.Int64).alias("source_row")]
    step1 += [e.alias(n) for n, e in values.items() if n not in JSON_FIELDS]
    step1 += [_object_body(social).alias("__social"), _object_body(custom).alias("__custom")]
    for name in JSON_FIELDS:
        if name in values:
            step1 += [
                values[name].alias(f"__{name}_raw"),
                values[name].str.json_path_match("$").alias(f"__{name}_json"),
            ]
    # Step 2: merge a JSON column's object into its body (its keys last, so they
    # win on a clash once re-parsed); a cell that is not a JSON object is kept as
    # text in custom_fields under its header name.
    bodies = {"social_profiles": [pl.col("__social")], "custom_fields": [pl.col("__custom")]}
    for name in JSON_FIELDS:
        if name in values:
            js = pl.col(f"__{name}_json")
            is_obj = js.str.starts_with("{").fill_null(False)
            raw = pl.when(~is_obj).then(pl.col(f"__{name}_raw"))
            bodies["custom_fields"].append(_json_pair(sources[name][0], raw))
            inner = js.str.strip_prefix("{").str.strip_suffix("}")
            bodies[name].append(pl.when(is_obj & (js != "{}")).then(inner))
    step2 = [_object_body(parts).alias(f"__{name}") for name, parts in bodies.items()]
    # Step 3: wrap in braces (null stays null: no empty objects) and re-parse
    # only where a JSON column was merged, to settle duplicate keys.
    step3 = []
    for name in JSON_FIELDS:
        obj = pl.concat_str([pl.lit("{"), pl.col(f"__{name}"), pl.lit("}")])
        reparse = name in values or (name == "custom_fields" and "social_profiles" in values)
        step3.append((obj.str.json_path_match("$") if reparse else obj).alias(name))

    out = [pl.lit(table.source_file, pl.String).alias("source_file"), pl.col("source_row")]
    out += [
        pl.col(n).cast(pl.String)
        if n in values or n in JSON_FIELDS
        else pl.lit(None, pl.String).alias(n)
        for n in CANONICAL
    ]
    frame = (
        table.frame.lazy().select(step1).with_columns(step2).with_columns(step3).select(out)
    ).collect()
    return MappedTable(
        source_file=table.source_file,
        preset=preset.name,
        email_column=sources["email"][0],
        column_map={k: v[0] for k, v in sources.items()},
        column_sources=sources,
        custom_columns=custom_cols,
        frame=frame,
        warnings=warnings,
    )


def _joined(columns: list[str], separator: str) -> pl.Expr:
    """The columns' non-empty cells joined with `separator`; null when all are empty."""
    joined = pl.concat_str(
        [_blank_to_null(pl.col(h)) for h in columns], separator=separator, ignore_nulls=True
    )
    return pl.when(joined != "").then(joined)


def split_tags_expr(preset: Preset, column: str = "tags") -> pl.Expr:
    """The raw tags cell as List[String]: trimmed, empty tags dropped, null stays null.

    A cell holding a JSON array of strings is read as such in every format;
    otherwise `quoted` reads Mailchimp's `"A","B"` (a bare `A,B` too) and
    `delimited` splits on every one of the preset's separators.
    """
    cell = pl.col(column).str.strip_chars()
    if preset.tag_format == "quoted":
        text = _quoted_to_sep(cell)
    else:
        seps = list(preset.tag_separators)
        text = cell.str.replace_many(seps, [_SEP] * len(seps))
    compact = cell.str.json_path_match("$")
    is_array = (cell.str.starts_with("[") & compact.str.starts_with("[")).fill_null(False)
    array = (
        _quoted_to_sep(compact.str.strip_prefix("[").str.strip_suffix("]"))
        .str.split(_SEP)
        .list.eval(pl.element().str.strip_chars('"').str.replace_all(r'\\(["\\/])', "$1"))
    )
    plain = text.str.split(_SEP).list.eval(pl.element().str.strip_chars().str.strip_chars('"'))
    tags = pl.when(is_array).then(array).otherwise(plain)
    return tags.list.eval(
        pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
    ).alias(column)


def _quoted_to_sep(cell: pl.Expr) -> pl.Expr:
    """Put _SEP between the items of `"A","B"`; an unquoted `A,B` is split on its commas."""
    return (
        pl.when(cell.str.contains('"'))
        .then(cell.str.replace_all(r'"\s*,\s*"', _SEP))
        .otherwise(cell.str.replace_all(",", _SEP, literal=True))
    )
