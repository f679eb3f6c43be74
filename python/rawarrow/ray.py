"""rawarrow readers as Ray Data datasets: one file (or many) read across a Ray cluster.

    import ray, rawarrow.ray

    ray.init(address="auto")
    ds = rawarrow.ray.read_bam("s3://bucket/runs/", columns=["rname", "pos", "mapq"])
    ds.groupby("rname").count().show()

The driver only plans: BAM files are cut into byte ranges of ``split_bytes`` (no index needed:
each read task finds its first record itself, see ``rawarrow.read_bam(byte_range=...)``), a
timsTOF run into groups of whole frames, MIDI inputs into lists of files. The plan is made by
the Rust library (``rawarrow._plan_*``); each read task runs the ordinary reader on its piece
and yields pyarrow Tables, one per record batch, without pandas. Requires ``ray[data]`` (and
pyarrow, which Ray Data brings).
"""

from typing import Iterator, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
from ray.data import Dataset, read_datasource
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from . import _rawarrow

__all__ = ["read_bam", "read_tdf", "read_midi", "BamDatasource", "TdfDatasource", "MidiDatasource"]

# Arrow bytes per compressed BAM byte and per peak, measured on the corpus (all columns): the
# size estimates Ray uses to decide how many blocks and tasks to run.
_BAM_EXPANSION = 5.0
_TDF_BYTES_PER_PEAK = 65
_MIDI_BYTES_PER_FILE_BYTE = 12.0


def _tables(stream) -> Iterator[pa.Table]:
    """One Table per batch of a rawarrow stream; an empty Table with the schema if none."""
    schema = pa.schema(stream)
    empty = True
    for batch in stream:
        empty = False
        yield pa.Table.from_batches([pa.record_batch(batch)])
    if empty:
        yield schema.empty_table()


def _meta(rows: Optional[int], size: int, files: Sequence[str]) -> BlockMetadata:
    return BlockMetadata(num_rows=rows, size_bytes=size, exec_stats=None, input_files=list(files))


class BamDatasource(Datasource):
    """BAM files as byte-range read tasks (see :func:`read_bam`)."""

    def __init__(self, paths, *, columns=None, tags=None, split_bytes=128 << 20,
                 threads_per_task=1, batch_rows=None, storage_options=None, reference=None):
        self._splits: List[Tuple[str, int, int]] = _rawarrow._plan_bam(
            paths, split_bytes, storage_options=storage_options)
        self._options = dict(columns=columns, tags=tags, threads=threads_per_task,
                             batch_rows=batch_rows, storage_options=storage_options,
                             reference=reference)

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return int(sum(end - start for _, start, end in self._splits) * _BAM_EXPANSION)

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> List[ReadTask]:
        options = self._options

        def task(path: str, start: int, end: int) -> ReadTask:
            def read() -> Iterator[pa.Table]:
                return _tables(_rawarrow.read_bam(path, byte_range=(start, end), **options))

            size = int((end - start) * _BAM_EXPANSION)
            return ReadTask(read, _meta(None, size, [path]))

        return [task(*s) for s in self._splits]


class TdfDatasource(Datasource):
    """A timsTOF run as frame-range read tasks (see :func:`read_tdf`)."""

    def __init__(self, path, *, peaks_per_split=50_000_000, threads_per_task=1, **options):
        self._path = str(path)
        self._splits = _rawarrow._plan_tdf(path, peaks_per_split,
                                           storage_options=options.get("storage_options"))
        self._options = dict(options, threads=threads_per_task)

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return sum(p for _, _, p in self._splits) * _TDF_BYTES_PER_PEAK

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> List[ReadTask]:
        path, options = self._path, self._options

        def task(first: int, last: int, peaks: int) -> ReadTask:
            def read() -> Iterator[pa.Table]:
                return _tables(_rawarrow.read_tdf(path, frames=(first, last), **options))

            # Exact row counts are known only without an MS-level filter.
            rows = peaks if options.get("ms_level") is None else None
            return ReadTask(read, _meta(rows, peaks * _TDF_BYTES_PER_PEAK, [path]))

        return [task(*s) for s in self._splits]


class MidiDatasource(Datasource):
    """MIDI files as file-list read tasks (see :func:`read_midi`)."""

    def __init__(self, paths, *, files_per_split=1000, threads_per_task=1, **options):
        self._splits = _rawarrow._plan_midi(paths, files_per_split,
                                            storage_options=options.get("storage_options"))
        self._options = dict(options, threads=threads_per_task)

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return int(sum(b for _, b in self._splits) * _MIDI_BYTES_PER_FILE_BYTE)

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> List[ReadTask]:
        options = self._options

        def task(files: List[str], size: int) -> ReadTask:
            def read() -> Iterator[pa.Table]:
                return _tables(_rawarrow.read_midi(files, **options))

            rows = len(files) if options.get("table") == "files" else None
            return ReadTask(read, _meta(rows, int(size * _MIDI_BYTES_PER_FILE_BYTE), files))

        return [task(*s) for s in self._splits]


PathArg = Union[str, Sequence[str]]


def read_bam(paths: PathArg, *, columns=None, tags=None, split_bytes: int = 128 << 20,
             threads_per_task: int = 1, batch_rows=None, storage_options=None,
             reference=None, **ray_args) -> Dataset:
    """BAM files as a Ray dataset: byte ranges of ``split_bytes`` per read task, records found
    without an index; every record once, in no particular order across tasks. ``columns``,
    ``tags`` and ``batch_rows`` as for :func:`rawarrow.read_bam`; ``threads_per_task`` decoding
    threads per task (match the task's ``num_cpus``); other keyword arguments go to
    ``ray.data.read_datasource`` (``num_cpus``, ``concurrency``, ...).

    Paths may be URLs (``s3://``, ``gs://``, ``az://``, ``https://``), and a URL ending in
    ``/`` is every ``.bam`` and ``.cram`` object under that prefix: the driver sizes the
    objects (no shared filesystem needed) and each task fetches only its byte range from the store (plus the
    header and the end of its last record). ``storage_options`` as for
    :func:`rawarrow.read_bam`; they travel to the tasks with the plan.

    CRAM 3.0 and 3.1 files and objects split the same way: each task decodes the containers that
    start in its byte range, the first found by its header's CRC32; ``reference`` (a FASTA
    every worker can read) as for :func:`rawarrow.read_bam`."""
    source = BamDatasource(paths, columns=columns, tags=tags, split_bytes=split_bytes,
                           threads_per_task=threads_per_task, batch_rows=batch_rows,
                           storage_options=storage_options, reference=reference)
    return read_datasource(source, **ray_args)


def read_tdf(path, *, peaks_per_split: int = 50_000_000, threads_per_task: int = 1,
             ms_level=None, calibration="auto", columns=None, batch_rows=None,
             storage_options=None, **ray_args) -> Dataset:
    """A timsTOF run as a Ray dataset: groups of whole frames of about ``peaks_per_split``
    peaks per read task; the other options as for :func:`rawarrow.read_tdf`.

    ``path`` may be a URL prefix (``s3://bucket/run.d``, ``gs://``, ``az://``,
    ``https://host/run.d/``): the driver plans from the run's ``analysis.tdf`` and each task
    fetches it and only its own frames' blobs of ``analysis.tdf_bin`` (no shared filesystem
    needed). ``storage_options`` as for :func:`rawarrow.read_bam`."""
    source = TdfDatasource(path, peaks_per_split=peaks_per_split,
                           threads_per_task=threads_per_task, ms_level=ms_level,
                           calibration=calibration, columns=columns, batch_rows=batch_rows,
                           storage_options=storage_options)
    return read_datasource(source, **ray_args)


def read_midi(paths: PathArg, *, files_per_split: int = 1000, threads_per_task: int = 1,
              table="notes", velocity_threshold=0, merge_window_ms=30.0, storage_options=None,
              **ray_args) -> Dataset:
    """MIDI files and folders as a Ray dataset: lists of ``files_per_split`` files per read
    task; the other options as for :func:`rawarrow.read_midi` (a URL ending in ``/`` is every
    MIDI object under that prefix, listed by the driver, fetched by the tasks)."""
    source = MidiDatasource(paths, files_per_split=files_per_split,
                            threads_per_task=threads_per_task, table=table,
                            velocity_threshold=velocity_threshold,
                            merge_window_ms=merge_window_ms, storage_options=storage_options)
    return read_datasource(source, **ray_args)
