"""listhygiene: turn messy contact exports into clean, import-ready lists."""

import os
from importlib.metadata import PackageNotFoundError, version

# polars allocates with its own jemalloc, which by default keeps freed pages for 10 s: a
# run frees and reallocates gigabytes within that time, so every stage's garbage would
# add to the peak. Read once, when polars loads: it must be set before polars is imported
# (a value the user set wins).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:250,muzzy_decay_ms:0")

try:
    __version__ = version("listhygiene")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
