"""Read contact exports of any supported shape into RawTables.

Formats are recognised by their first bytes (gzip, zip, Parquet, JSON),
then by extension; everything else is read as delimited text. Compressed
files are expanded into the run's staging folder, within the
decompressed-size limit of the rules.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputFileError
from ..ruleset import IngestRules
from .csv_reader import read_csv
from .json_reader import read_json, read_ndjson
from .parquet_reader import read_parquet
from .table import ROW, RawTable, RowReject

__all__ = ["ROW", "RawTable", "RowReject", "expand_paths", "read_inputs"]

SUPPORTED = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".ndjson", ".jsonl", ".gz", ".zip"}


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for its supported files, sorted by name."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and not f.name.startswith(".")
                and "".join(f.suffixes[-1:]).lower() in SUPPORTED
            )
            if not found:
                raise InputFileError(
                    f"{p}: the folder holds no contact files ({', '.join(sorted(SUPPORTED))}). "
                    "Name the files to read, or put them in this folder."
                )
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise InputFileError(
                f"{p}: not a regular file. Give a contact export file or a folder."
            )
        else:
            raise InputFileError(f"{p}: no such file or folder. Check the path and try again.")
    return out


def _kind(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".json":
        return "json"
    if suffix in (".parquet", ".pq"):
        return "parquet"  # without the magic bytes: the reader says it is broken
    if suffix in (".xlsx", ".xls", ".numbers", ".ods", ".pdf", ".docx"):
        raise InputFileError(
            f"{path}: {suffix} files are not read; save the sheet as CSV (UTF-8) and give "
            "that file."
        )
    return "csv"


def _copy_capped(src, dest: Path, cap: int, source_file: str) -> None:
    written = 0
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > cap:
                raise InputFileError(
                    f"{source_file}: expands past {cap:,} bytes (rules ingest.toml [limits] "
                    "max_decompressed_bytes); raise the limit if the file is genuine."
                )
            out.write(chunk)


def archive_members(
    path: Path, source_file: str, rules: IngestRules, staging: Path
) -> Iterator[tuple[Path, str]]:
    kind = _kind(path)
    if kind == "gz":
        inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.name + ".out"
        dest = staging / f"{len(list(staging.iterdir()))}-{inner}"
        try:
            with gzip.open(path, "rb") as src:
                _copy_capped(src, dest, rules.max_decompressed_bytes, source_file)
        except (OSError, EOFError) as exc:
            raise InputFileError(
                f"{source_file}: not a readable gzip file ({exc}). Compress it again."
            ) from None
        yield from archive_members(dest, source_file, rules, staging)
    elif kind == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = [
                    i
                    for i in zf.infolist()
                    if not i.is_dir()
                    and not i.filename.startswith("__MACOSX/")
                    and not Path(i.filename).name.startswith(".")
                ]
                if not infos:
                    raise InputFileError(
                        f"{source_file}: the archive holds no files. Export the list again."
                    )
                for info in sorted(infos, key=lambda i: i.filename):
                    dest = staging / f"{len(list(staging.iterdir()))}-{Path(info.filename).name}"
                    with zf.open(info) as src:
                        _copy_capped(
                            src,
                            dest,
                            rules.max_decompressed_bytes,
                            f"{source_file}!{info.filename}",
                        )
                    yield dest, f"{source_file}!{info.filename}"
        except zipfile.BadZipFile as exc:
            raise InputFileError(
                f"{source_file}: not a readable zip archive ({exc}). Create it again."
            ) from None
    else:
        yield path, source_file


def read_one(path: Path, source_file: str, rules: IngestRules) -> RawTable:
    kind = _kind(path)
    if kind == "parquet":
        return read_parquet(path, source_file, rules)
    if kind == "json":
        return read_json(path, source_file, rules)
    if kind == "ndjson":
        return read_ndjson(path, source_file, rules)
    name = source_file.rsplit("!", 1)[-1]
    return read_csv(path, source_file, rules, suffix=Path(name).suffix.lower())


def read_inputs(paths: list[Path], rules: IngestRules, staging: Path) -> Iterator[RawTable]:
    """Each input file, or each member of an archive, as one RawTable."""
    for path in paths:
        for member, source_file in archive_members(path, str(path), rules, staging):
            yield read_one(member, source_file, rules)
