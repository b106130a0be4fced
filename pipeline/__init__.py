"""listhygiene: turn messy contact exports into clean, import-ready lists."""

import os
from importlib.metadata import PackageNotFoundError, version

# polars allocates with its own jemalloc, which by default keeps freed pages for 10 s: a
# run frees and reallocates gigabytes within that time, so every stage's garbage would
# add to the peak. Its background thread returns them after 250 ms even while nothing
# allocates (without it, pages freed by one task of a sharded run were sometimes still
# held, 1.7 GB, when the next began). Read once, when polars loads: it must be set
# before polars is imported (a value the user set wins).
os.environ.setdefault(
    "_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:250,muzzy_decay_ms:0"
)

try:
    __version__ = version("listhygiene")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
