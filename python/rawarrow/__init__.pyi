"""Type stubs of rawarrow (the readers are implemented in Rust, in rawarrow._rawarrow)."""

import os

import polars
import pyarrow.dataset
from types import TracebackType
from typing import BinaryIO, Callable, Iterator, Literal, Mapping, Optional, Sequence, Tuple, Union

__version__: str

PathLike = Union[str, "os.PathLike[str]"]
Paths = Union[PathLike, Sequence[PathLike]]
Progress = Union[None, bool, Callable[[int, int, int], object]]
Output = Union[PathLike, BinaryIO]
"""A path, or a binary file object (written as standard output is: IPC file unless `format` says)."""

class FormatError(ValueError):
    """The input is malformed. The message is the one the rawarrow CLI prints."""

    path: Optional[str]
    """The file, when known."""
    offset: Optional[int]
    """Byte offset of the bad data: BGZF block (BAM), analysis.tdf_bin (timsTOF), file (MIDI)."""
    record: Optional[int]
    """0-based record index (BAM) or frame id (timsTOF)."""

class RecordBatch:
    """One Arrow record batch (Arrow PyCapsule array interface; ``pyarrow.record_batch(b)``)."""

    @property
    def num_rows(self) -> int: ...
    @property
    def num_columns(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def nbytes(self) -> int: ...
    def __len__(self) -> int: ...
    def __arrow_c_array__(self, requested_schema: object = None) -> Tuple[object, object]: ...
    def __arrow_c_schema__(self) -> object: ...

class BatchStream:
    """Arrow record batches from a reader: iterate it, or hand it to pyarrow, polars or DuckDB
    (Arrow PyCapsule stream interface). Read once."""

    def __iter__(self) -> Iterator[RecordBatch]: ...
    def __next__(self) -> RecordBatch: ...
    def __arrow_c_stream__(self, requested_schema: object = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    @property
    def column_names(self) -> list[str]: ...
    @property
    def progress(self) -> Optional[Tuple[int, int, int, str]]:
        """(rows, done, total, unit); unit is "bytes", "rows" (timsTOF) or "files"."""
    @property
    def blocks(self) -> Optional[int]:
        """Pieces of input decompressed so far: BGZF blocks (BAM; a CRAM container counts as
        one), frames (timsTOF peaks) or files (MIDI)."""
    def close(self) -> None: ...
    def __enter__(self) -> "BatchStream": ...
    def __exit__(
        self,
        exc_type: Optional[type],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

def detect(path: PathLike) -> Literal["bam", "tdf", "midi"]:
    """The format that reads `path`, from its first bytes: "bam", "tdf" (a timsTOF .d folder) or
    "midi" (a Standard MIDI File, or a folder to walk for them). An input no format reads is a
    FormatError saying what it is instead (CRAM, SAM text, an empty file); a missing one an
    OSError."""

def dataset(
    paths: Union[Paths, Sequence[PathLike]],
    format: Optional[Literal["bam", "tdf", "midi"]] = None,
    **options: object,
) -> "pyarrow.dataset.Dataset":
    """A pyarrow Dataset whose scans push projection and filter into the reader (DuckDB,
    pyarrow, Dask and Ray read through it with the same pushdown)."""

def scan_bam(paths: Paths, **options: object) -> "polars.LazyFrame":
    """rawarrow.polars.scan_bam: a lazy polars scan whose projection, regions, FLAG and MAPQ
    predicates are read through the reader."""

def scan_tdf(path: PathLike, **options: object) -> "polars.LazyFrame":
    """rawarrow.polars.scan_tdf: a lazy polars scan whose frame, rt, mobility, m/z and MS-level
    predicates are read through the reader."""

def scan_midi(paths: Paths, **options: object) -> "polars.LazyFrame":
    """rawarrow.polars.scan_midi: a lazy polars scan of notes or files."""

def read_bam(
    paths: Union[Paths, BinaryIO],
    *,
    columns: Optional[Sequence[str]] = None,
    tags: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    batch_rows: Optional[int] = None,
    limit: Optional[int] = None,
    byte_range: Optional[Tuple[int, int]] = None,
    min_mapq: int = 0,
    require_flags: Optional[Union[int, str]] = None,
    exclude_flags: Optional[Union[int, str]] = None,
    regions: Optional[Sequence[str]] = None,
    index: Optional[PathLike] = None,
    with_file: bool = False,
    storage_options: Optional[Mapping[str, str]] = None,
    reference: Optional[PathLike] = None,
) -> BatchStream: ...
def read_tdf(
    path: PathLike,
    *,
    table: Literal["peaks", "precursors", "spectra", "windows"] = "peaks",
    ms_level: Optional[Literal[1, 2]] = None,
    frames: Optional[Tuple[int, int]] = None,
    rt: Optional[Tuple[float, float]] = None,
    mobility: Optional[Tuple[float, float]] = None,
    mz: Optional[Tuple[float, float]] = None,
    centroid: Optional[int] = None,
    calibration: Literal["auto", "bruker", "estimate"] = "auto",
    columns: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    batch_rows: Optional[int] = None,
    storage_options: Optional[Mapping[str, str]] = None,
) -> BatchStream: ...
def read_midi(
    paths: Union[Paths, BinaryIO, Sequence[BinaryIO]],
    *,
    table: Literal["notes", "files"] = "notes",
    threads: Optional[int] = None,
    files_per_batch: Optional[int] = None,
    velocity_threshold: int = 0,
    merge_window_ms: float = 30.0,
    key_profile: Literal["krumhansl", "aarden", "temperley"] = "krumhansl",
    storage_options: Optional[Mapping[str, str]] = None,
) -> BatchStream: ...
def convert_bam(
    inputs: Union[Paths, BinaryIO],
    output: Optional[Output] = None,
    *,
    format: Optional[Literal["ipc", "stream", "parquet"]] = None,
    compression: Optional[Literal["none", "lz4", "zstd"]] = None,
    postgres: Optional[str] = None,
    schema: Optional[str] = None,
    pg_table: Optional[str] = None,
    resume: bool = False,
    stats: Optional[PathLike] = None,
    columns: Optional[Sequence[str]] = None,
    tags: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    batch_rows: Optional[int] = None,
    limit: Optional[int] = None,
    byte_range: Optional[Tuple[int, int]] = None,
    progress: Progress = None,
    min_mapq: int = 0,
    require_flags: Optional[Union[int, str]] = None,
    exclude_flags: Optional[Union[int, str]] = None,
    regions: Optional[Sequence[str]] = None,
    index: Optional[PathLike] = None,
    with_file: bool = False,
    storage_options: Optional[Mapping[str, str]] = None,
    reference: Optional[PathLike] = None,
) -> Tuple[int, float]: ...
def convert_tdf(
    input: PathLike,
    output: Optional[Output] = None,
    *,
    format: Optional[Literal["ipc", "stream", "parquet", "mgf", "sam"]] = None,
    compression: Optional[Literal["none", "lz4", "zstd"]] = None,
    postgres: Optional[str] = None,
    schema: Optional[str] = None,
    pg_table: Optional[str] = None,
    resume: bool = False,
    stats: Optional[PathLike] = None,
    table: Optional[Literal["peaks", "precursors", "spectra", "windows"]] = None,
    ms_level: Optional[Literal[1, 2]] = None,
    frames: Optional[Tuple[int, int]] = None,
    rt: Optional[Tuple[float, float]] = None,
    mobility: Optional[Tuple[float, float]] = None,
    mz: Optional[Tuple[float, float]] = None,
    centroid: Optional[int] = None,
    calibration: Literal["auto", "bruker", "estimate"] = "auto",
    columns: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    batch_rows: Optional[int] = None,
    progress: Progress = None,
    storage_options: Optional[Mapping[str, str]] = None,
) -> Tuple[int, float]: ...
def convert_midi(
    inputs: Union[Paths, BinaryIO, Sequence[BinaryIO]],
    output: Optional[Output] = None,
    *,
    files: Optional[PathLike] = None,
    format: Optional[Literal["ipc", "stream", "parquet"]] = None,
    compression: Optional[Literal["none", "lz4", "zstd"]] = None,
    postgres: Optional[str] = None,
    schema: Optional[str] = None,
    pg_table: Optional[str] = None,
    resume: bool = False,
    stats: Optional[PathLike] = None,
    table: Literal["notes", "files"] = "notes",
    threads: Optional[int] = None,
    files_per_batch: Optional[int] = None,
    velocity_threshold: int = 0,
    merge_window_ms: float = 30.0,
    key_profile: Literal["krumhansl", "aarden", "temperley"] = "krumhansl",
    progress: Progress = None,
    storage_options: Optional[Mapping[str, str]] = None,
) -> Tuple[int, float]: ...
