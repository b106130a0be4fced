"""Typed reads from one table of a rules TOML file, for every module that parses rules.

Each parse function (`ruleset`, `fields`, `flags`, ...) reads its tables through
a RuleTable: a wrong type, a value out of range, a missing or unknown key each
become one full sentence naming the file, the table and the key, collected in
`problems`; nothing raises, so `listhygiene rules check` reports every problem
at once. A bad value falls back to its default so parsing can go on.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class RuleTable:
    def __init__(self, doc: dict[str, Any], name: str, where: str, problems: list[str]):
        self.name, self.where, self.problems = name, f"{where} [{name}]", problems
        v = doc.get(name)
        if v is None:
            problems.append(f"{where}: missing table [{name}]; add it (the default file has it).")
        elif not isinstance(v, dict):
            problems.append(f"{where}: `{name}` must be a table [{name}], not {v!r}.")
        # A table that is missing was reported once; its keys are not reported again.
        self.present = isinstance(v, dict)
        self.data: dict[str, Any] = v if isinstance(v, dict) else {}
        self.used: list[str] = []

    def get(self, key: str) -> Any:
        """The raw value, or None (reported) when the key is missing."""
        self.used.append(key)
        if key not in self.data:
            if self.present:
                self.problems.append(f"{self.where}: missing key `{key}`; add it.")
            return None
        return self.data[key]

    def bad(self, key: str, wanted: str, value: Any) -> None:
        self.problems.append(f"{self.where}: `{key}` must be {wanted}, not {value!r}.")

    def bool(self, key: str, default: bool) -> bool:
        v = self.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.bad(key, "true or false", v)
            return default
        return v

    def int(self, key: str, default: int, lo: int = 1, hi: int | None = None) -> int:
        v = self.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            span = f"of at least {lo}" if hi is None else f"from {lo} to {hi}"
            self.bad(key, f"a whole number {span}", v)
            return default
        return v

    def share(self, key: str, default: float) -> float:
        v = self.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            self.bad(key, "a number from 0 to 1 (0.001 is 0.1%)", v)
            return default
        return float(v)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        v = self.get(key)
        if v is None:
            return default
        if v not in choices:
            self.bad(key, "one of " + ", ".join(f'"{c}"' for c in choices), v)
            return default
        return v

    def text(self, key: str, default: str) -> str:
        v = self.get(key)
        if v is None:
            return default
        if not isinstance(v, str) or not v:
            self.bad(key, "a non-empty string", v)
            return default
        return v

    def strings(self, key: str, *, non_empty: bool = False) -> list[str]:
        v = self.get(key)
        if v is None:
            return []
        if (
            not isinstance(v, list)
            or not all(isinstance(x, str) for x in v)
            or (non_empty and not v)
        ):
            self.bad(key, "a non-empty list of strings" if non_empty else "a list of strings", v)
            return []
        dupes = sorted({x for x in v if v.count(x) > 1})
        if dupes:
            self.problems.append(
                f"{self.where}: `{key}` lists {', '.join(dupes)} more than once; keep one."
            )
        return list(dict.fromkeys(v))

    def finish(self) -> None:
        """Report the keys no read asked for."""
        known = list(dict.fromkeys(self.used))
        listed = known[0] if len(known) == 1 else ", ".join(known[:-1]) + " and " + known[-1]
        for key in sorted(set(self.data) - set(self.used)):
            self.problems.append(f"{self.where}: unknown key `{key}`; the keys are {listed}.")


def unknown_tables(doc: dict[str, Any], tables: tuple[str, ...], where: str) -> list[str]:
    return [
        f"{where}: unknown table [{key}]; the tables are "
        + ", ".join(f"[{t}]" for t in tables)
        + "."
        for key in sorted(set(doc) - set(tables))
    ]


def load_rules_file(
    parse: Callable[[dict[str, Any], str, list[str]], T], name: str, path: Path | None = None
) -> T:
    """One rules file parsed on its own (default: the shipped `rules/<name>`), for callers
    without a RuleSet; RulesError lists every problem."""
    from .errors import RulesError

    source = path if path is not None else resources.files("listhygiene.rules").joinpath(name)
    problems: list[str] = []
    parsed = parse(tomllib.loads(source.read_text("utf-8")), str(source), problems)
    if problems:
        raise RulesError(problems)
    return parsed
