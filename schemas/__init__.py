"""pandera DataFrameModels, one per stage boundary (polars backend)."""

from .contact import STATUSES, ValidatedContact
from .rejects import REJECT_COLUMNS, REJECT_SCHEMA, RejectRecord

__all__ = ["REJECT_COLUMNS", "REJECT_SCHEMA", "STATUSES", "RejectRecord", "ValidatedContact"]
