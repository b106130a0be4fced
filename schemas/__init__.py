"""pandera DataFrameModels, one per stage boundary (polars backend)."""

from .contact import STATUSES, ValidatedContact
from .rejects import REJECT_COLUMNS, RejectRecord

__all__ = ["REJECT_COLUMNS", "STATUSES", "RejectRecord", "ValidatedContact"]
