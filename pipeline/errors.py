"""One small exception tree, rooted in ValueError, with full-sentence messages.

The CLI turns these into plain stderr sentences and the exit codes of the
contract; everything else that escapes is a bug and shows a traceback only
with --debug.
"""

from __future__ import annotations


class ListHygieneError(ValueError):
    """Base class: a problem the user can fix. `exit_code` follows the contract."""

    exit_code = 2


class InputFileError(ListHygieneError):
    """A whole input file cannot be used (empty, header-only, not a table, no email column)."""


class RulesError(ListHygieneError):
    """The rules folder has one or more problems; all of them are listed at once."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        n = len(self.problems)
        head = "The rules have 1 problem:" if n == 1 else f"The rules have {n} problems:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class StoreLockedError(ListHygieneError):
    """Another run holds the store's lock."""

    exit_code = 3


class StoreError(ListHygieneError):
    """The store file cannot be opened or is not a listhygiene store."""
