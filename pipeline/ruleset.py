"""Rules are data, validated up front: every problem is reported together.

The default rules ship inside the package (`listhygiene.rules`, the top-level
`rules/` folder of the source tree). `--rules DIR` overlays a folder on them:
a file in DIR replaces the default file of the same name, and a preset in
`DIR/presets/` adds a preset or replaces the one of the same name.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import RulesError
from .rulefile import RuleTable, unknown_tables

RULE_FILES = (
    "ingest.toml",
    "fields.toml",
    "statuses.toml",
    "deliverability.toml",
    "merge.toml",
    "scoring.toml",
    "health.toml",
    "payloads.toml",
)


@dataclass(frozen=True)
class IngestRules:
    max_field_bytes: int
    max_rows_per_file: int
    max_columns: int
    max_decompressed_bytes: int
    delimiters: tuple[str, ...]
    sniff_bytes: int
    fallback_encoding: str
    keep_raw_runs: int


@dataclass(frozen=True)
class RuleSet:
    ingest: IngestRules
    fields: Any  # fields.FieldRules
    statuses: Any  # fields.StatusRules
    deliverability: Any  # flags.DeliverabilityRules
    merge: Any  # merge.MergeRules
    scoring: Any  # scoring_rules.ScoringRules
    health: Any  # health.HealthRules
    payloads: Any  # payloads.rules.PayloadRules
    presets: dict[str, Any]  # name -> presets.Preset
    files: dict[str, bytes] = field(repr=False)  # relative path -> bytes, for the hash
    sources: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + self.files[rel] + b"\0")
        return h.hexdigest()


def default_rules_dir() -> Path:
    return Path(str(resources.files("listhygiene.rules")))


def _collect_files(base: Path, overlay: Path | None, problems: list[str]) -> dict[str, Path]:
    """Relative path -> file, the overlay winning over the defaults."""
    found: dict[str, Path] = {}
    for root in (base, overlay):
        if root is None:
            continue
        for p in sorted(root.glob("*.toml")) + sorted(root.glob("presets/*.toml")):
            found[p.relative_to(root).as_posix()] = p
    if overlay is not None:
        known = set(RULE_FILES)
        for p in sorted(overlay.glob("*.toml")):
            if p.name not in known:
                problems.append(
                    f"{p}: unknown rules file; the files listhygiene reads are "
                    f"{', '.join(RULE_FILES)} and presets/*.toml."
                )
    return found


def _parse_ingest(doc: dict[str, Any], where: str, problems: list[str]) -> IngestRules:
    problems.extend(unknown_tables(doc, ("limits", "csv", "store"), where))
    lim = RuleTable(doc, "limits", where, problems)
    csv = RuleTable(doc, "csv", where, problems)
    store = RuleTable(doc, "store", where, problems)
    rules = IngestRules(
        max_field_bytes=lim.int("max_field_bytes", 131072),
        max_rows_per_file=lim.int("max_rows_per_file", 50_000_000),
        max_columns=lim.int("max_columns", 2000),
        max_decompressed_bytes=lim.int("max_decompressed_bytes", 16 << 30),
        delimiters=tuple(csv.strings("delimiters", non_empty=True)) or (",", ";", "\t", "|"),
        sniff_bytes=csv.int("sniff_bytes", 262144, lo=1024),
        fallback_encoding=csv.text("fallback_encoding", "cp1252"),
        keep_raw_runs=store.int("keep_raw_runs", 3),
    )
    for section in (lim, csv, store):
        section.finish()
    for d in rules.delimiters:
        if len(d) != 1 or d in '"\r\n':
            problems.append(
                f"{where} [csv]: delimiter {d!r} must be one character, not a quote or newline."
            )
    if rules.fallback_encoding:
        import codecs

        try:
            codecs.lookup(rules.fallback_encoding)
        except LookupError:
            problems.append(
                f"{where} [csv]: fallback_encoding {rules.fallback_encoding!r} is not an encoding "
                "Python knows; use for example cp1252 or latin-1."
            )
    return rules


def load_rules(overlay: Path | None = None) -> RuleSet:
    """Read and validate the rules; raise RulesError listing every problem."""
    # Each rules file is parsed by the module that applies it.
    from .fields import parse_field_rules, parse_status_rules
    from .flags import parse_deliverability_rules
    from .health import parse_health_rules
    from .merge import parse_merge_rules
    from .payloads.rules import parse_payload_rules
    from .presets import parse_preset
    from .scoring_rules import parse_scoring_rules

    problems: list[str] = []
    base = default_rules_dir()
    if overlay is not None and not overlay.is_dir():
        raise RulesError([f"{overlay}: the rules folder does not exist or is not a folder."])
    files = _collect_files(base, overlay, problems)
    docs: dict[str, dict[str, Any]] = {}
    raw: dict[str, bytes] = {}
    for rel, path in files.items():
        data = path.read_bytes()
        raw[rel] = data
        try:
            docs[rel] = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: not valid TOML ({exc}); fix the syntax at the place named.")
    for name in RULE_FILES:
        if name not in files:
            problems.append(
                f"{base / name}: required rules file is missing; reinstall listhygiene."
            )
    ingest_where = str(files.get("ingest.toml", base / "ingest.toml"))
    ingest = _parse_ingest(docs.get("ingest.toml", {}), ingest_where, problems)

    def parsed(name: str, parse: Any) -> Any:  # each file by the module that applies it
        return parse(docs.get(name, {}), str(files.get(name, base / name)), problems)

    fields = parsed("fields.toml", parse_field_rules)
    statuses = parsed("statuses.toml", parse_status_rules)
    deliverability = parsed("deliverability.toml", parse_deliverability_rules)
    merge = parsed("merge.toml", parse_merge_rules)
    scoring = parsed("scoring.toml", parse_scoring_rules)
    health = parsed("health.toml", parse_health_rules)
    payloads = parsed("payloads.toml", parse_payload_rules)
    presets: dict[str, Any] = {}
    for rel in sorted(files):
        if rel.startswith("presets/") and rel in docs:
            preset = parse_preset(Path(rel).stem, docs[rel], str(files[rel]), problems)
            if preset is not None:
                presets[preset.name] = preset
    if not presets and not problems:
        problems.append(f"{base / 'presets'}: no header presets found; reinstall listhygiene.")
    if problems:
        raise RulesError(problems)
    sources = (str(base),) if overlay is None else (str(base), str(overlay))
    return RuleSet(
        ingest=ingest,
        fields=fields,
        statuses=statuses,
        deliverability=deliverability,
        merge=merge,
        scoring=scoring,
        health=health,
        payloads=payloads,
        presets=presets,
        files=raw,
        sources=sources,
    )
