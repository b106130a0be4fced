"""pandera DataFrameModels, one per stage boundary (polars backend)."""

from .rejects import REJECT_COLUMNS, RejectRecord

__all__ = ["REJECT_COLUMNS", "RejectRecord"]
