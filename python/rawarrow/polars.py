"""Lazy scans for polars: ``scan_bam``, ``scan_tdf`` and ``scan_midi`` return a ``pl.LazyFrame``
(polars' IO-plugin interface) that reads only what the query needs::

    import polars as pl, rawarrow.polars as rp

    lf = rp.scan_bam("x.bam")                       # nothing is read yet
    df = (lf.filter((pl.col("rname") == "chr1") & pl.col("pos").is_between(1_000_000, 2_000_000))
            .filter(pl.col("mapq") >= 30, (pl.col("flag") & 0x904) == 0)
            .select("qname", "pos", "cigar")
            .collect())

What polars hands the scan is pushed into the reader (the library's ``rawarrow::scan``
planners decide what; see docs/SCANS.md):

* the projection becomes ``columns`` (only those columns are decoded; the predicate's own
  columns are added for it and dropped after);
* BAM/CRAM: ``rname ==`` / ``rname.is_in`` with bounds on ``pos``/``end`` become regions read
  through the index beside the file (or ``index=``); FLAG tests (``flag & m == 0``,
  ``flag & m == m``, ``flag & bit != 0``, ``flag == v``) the samtools FLAG filter; ``mapq``
  lower bounds the MAPQ filter;
* timsTOF peaks: bounds on ``frame``, ``rt``, ``mobility``, ``mz`` and ``ms_level ==`` become
  the reader's frame range and slices;
* ``head(n)`` without a filter becomes ``limit``.

The whole predicate is then applied to what the reader yields, so anything not pushed (``|``,
other columns, other functions) is still exact: pushdown changes what is read, never the rows.
What was pushed is logged on the ``rawarrow`` logger at DEBUG level, one line per scan, with
the blocks (BGZF blocks, CRAM containers or timsTOF frames) decompressed::

    import logging; logging.basicConfig(level=logging.DEBUG)
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any, Iterator, Mapping, Optional, Sequence

import polars as pl
from polars.io.plugins import register_io_source as _register

from . import _pushdown, _rawarrow

__all__ = ["scan_bam", "scan_tdf", "scan_midi"]

log = logging.getLogger("rawarrow")

def register_io_source(source, *, schema, explain_name, explain_detail) -> pl.LazyFrame:
    """polars' IO-plugin registration; the plan's labels where this polars has them."""
    import inspect

    params = inspect.signature(_register).parameters
    labels = dict(explain_name=explain_name, explain_detail=explain_detail)
    return _register(source, schema=schema, **{k: v for k, v in labels.items() if k in params})


_OPS = {"Eq": "==", "NotEq": "!=", "Lt": "<", "LtEq": "<=", "Gt": ">", "GtEq": ">="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _NotPushed(Exception):
    pass


def _literal(node: Any) -> Any:
    """The value of a literal node (a scalar, or a list for ``is_in``)."""
    if not (isinstance(node, dict) and "Literal" in node):
        raise _NotPushed
    expr = pl.Expr.deserialize(io.StringIO(json.dumps(node)), format="json")
    value = pl.select(expr).to_series()
    if value.dtype == pl.List or isinstance(value.dtype, pl.List):
        out = value.explode().to_list()
    elif len(value) == 1:
        out = [value.item()]
    else:
        out = value.to_list()
    if any(v is None or isinstance(v, bool) for v in out):
        raise _NotPushed
    return out


def _column(node: Any) -> str:
    if isinstance(node, dict) and "Column" in node:
        return node["Column"]
    # rname is a categorical: polars casts it to String to compare it with text.
    cast = node.get("Cast") if isinstance(node, dict) else None
    if cast and cast.get("dtype") in ({"Literal": "String"}, "String"):
        return _column(cast["expr"])
    raise _NotPushed


def _leaf(node: Any) -> list:
    """The conditions of one conjunct (empty when it is not one rawarrow can push)."""
    try:
        if "BinaryExpr" in node:
            b = node["BinaryExpr"]
            op = _OPS.get(b["op"])
            if op is None:
                raise _NotPushed
            left, right = b["left"], b["right"]
            inner = left.get("BinaryExpr") if isinstance(left, dict) else None
            if inner is not None and inner["op"] == "And" and op in ("==", "!="):
                # (column & mask) == value
                (mask,), (value,) = _literal(inner["right"]), _literal(right)
                return [(_column(inner["left"]), "&" + op, [mask, value])]
            if isinstance(left, dict) and "Literal" in left:
                left, right, op = right, left, _FLIP[op]
            values = _literal(right)
            if len(values) != 1:
                raise _NotPushed
            return [(_column(left), op, values)]
        if "Function" in node:
            f = node["Function"]
            fn = f["function"].get("Boolean") if isinstance(f["function"], dict) else None
            args = f["input"]
            if isinstance(fn, dict) and "IsBetween" in fn:
                closed = fn["IsBetween"]["closed"]
                col = _column(args[0])
                (lo,), (hi,) = _literal(args[1]), _literal(args[2])
                lo_op = ">=" if closed in ("Both", "Left") else ">"
                hi_op = "<=" if closed in ("Both", "Right") else "<"
                return [(col, lo_op, [lo]), (col, hi_op, [hi])]
            if isinstance(fn, dict) and "IsIn" in fn:
                return [(_column(args[0]), "in", _literal(args[1]))]
    except (_NotPushed, KeyError, TypeError, ValueError, AttributeError):
        pass
    return []


def _conjuncts(node: Any) -> Iterator[Any]:
    """The terms of a conjunction, however polars nested it."""
    if isinstance(node, dict):
        b = node.get("BinaryExpr")
        if b is not None and b["op"] in ("And", "LogicalAnd"):
            yield from _conjuncts(b["left"])
            yield from _conjuncts(b["right"])
            return
        f = node.get("Function")
        if f is not None and f.get("function") == {"Boolean": "AllHorizontal"}:
            for i in f["input"]:
                yield from _conjuncts(i)
            return
    yield node


def _conditions(predicate: Optional[pl.Expr]) -> list:
    if predicate is None:
        return []
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception:  # noqa: BLE001 - an expression polars cannot serialize is not pushed
        return []
    out = []
    for term in _conjuncts(tree):
        out.extend(_leaf(term))
    return out


def _schema(stream: Any) -> pl.Schema:
    return pl.DataFrame(stream).schema


def _frames(stream: Any, with_columns, predicate, n_rows, notes, what) -> Iterator[pl.DataFrame]:
    """The reader's batches as polars frames, filtered by the whole predicate, projected, cut
    at n_rows; the debug line when done."""
    left = n_rows
    rows = 0
    if stream is None:
        log.debug("%s: %s; 0 rows, 0 blocks decompressed", what, "; ".join(notes))
        return
    decoded = stream.column_names
    blocks = stream.blocks or 0
    try:
        for batch in stream:
            # The stream lets go of its reader at its end: its counter is read batch by batch.
            blocks = stream.blocks or blocks
            if left is not None and left <= 0:
                break
            df = pl.DataFrame(batch)
            if predicate is not None:
                df = df.filter(predicate)
            if with_columns is not None:
                df = df.select(with_columns)
            if left is not None:
                df = df.head(left)
                left -= df.height
            rows += df.height
            yield df
    finally:
        stream.close()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s; decoded %s; %d rows, %d blocks decompressed", what,
                      "; ".join(notes) or "nothing pushed", ", ".join(decoded), rows, blocks)


def _wanted(with_columns, predicate) -> Optional[set]:
    """The columns to read: the projection and the predicate's own (None: all)."""
    if with_columns is None:
        return None
    need = set(with_columns)
    if predicate is not None:
        need.update(predicate.meta.root_names())
    return need


def scan_bam(
    paths: Any,
    *,
    tags: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    index: Any = None,
    with_file: bool = False,
    storage_options: Optional[Mapping[str, str]] = None,
    reference: Any = None,
) -> pl.LazyFrame:
    """A lazy BAM/CRAM scan: ``read_bam``'s table as a ``pl.LazyFrame`` whose projection, FLAG,
    MAPQ and region predicates are read through the reader (regions through the index beside
    each file, or ``index``). Other arguments as ``read_bam``'s."""
    common = dict(tags=tags, threads=threads, with_file=with_file,
                  storage_options=storage_options, reference=reference)
    schema = _schema(_rawarrow.read_bam(paths, limit=0, **common))
    names = list(schema.names())
    common["index"] = index

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        selection, notes = _pushdown.bam(paths, _conditions(predicate),
                                         _wanted(with_columns, predicate), names, common)
        if selection["limit"] == 0:
            # No reference of the header can hold a row: nothing to read.
            return _frames(None, with_columns, predicate, n_rows, notes, f"scan_bam {paths}")
        if n_rows is not None and predicate is None:
            limit = selection["limit"]
            selection["limit"] = n_rows if limit is None else min(limit, n_rows)
            notes.append(f"head({n_rows}): pushed as limit")
        stream = _rawarrow.read_bam(paths, batch_rows=batch_size, **{**common, **selection})
        return _frames(stream, with_columns, predicate, n_rows, notes, f"scan_bam {paths}")

    return register_io_source(source, schema=schema, explain_name="rawarrow.scan_bam",
                              explain_detail=str(paths))


def scan_tdf(
    path: Any,
    *,
    table: str = "peaks",
    calibration: str = "auto",
    centroid: Optional[int] = None,
    threads: Optional[int] = None,
    storage_options: Optional[Mapping[str, str]] = None,
) -> pl.LazyFrame:
    """A lazy timsTOF scan: ``read_tdf``'s table as a ``pl.LazyFrame``; on the peaks table,
    bounds on frame, rt, mobility, mz and ``ms_level ==`` become the reader's frame range and
    slices (frames outside them are never decompressed). Other arguments as ``read_tdf``'s."""
    common = dict(table=table, calibration=calibration, centroid=centroid, threads=threads,
                  storage_options=storage_options)
    schema = _schema(_rawarrow.read_tdf(path, frames=(0, 0), **common))
    names = list(schema.names())

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        selection, notes = _pushdown.tdf(_conditions(predicate), _wanted(with_columns, predicate),
                                         names, table)
        stream = _rawarrow.read_tdf(path, batch_rows=batch_size, **common, **selection)
        return _frames(stream, with_columns, predicate, n_rows, notes, f"scan_tdf {path}")

    return register_io_source(source, schema=schema, explain_name="rawarrow.scan_tdf",
                              explain_detail=str(path))


def scan_midi(
    paths: Any,
    *,
    table: str = "notes",
    threads: Optional[int] = None,
    velocity_threshold: int = 0,
    merge_window_ms: float = 30.0,
    key_profile: str = "krumhansl",
    storage_options: Optional[Mapping[str, str]] = None,
) -> pl.LazyFrame:
    """A lazy MIDI scan: ``read_midi``'s table as a ``pl.LazyFrame``. Every file is parsed
    (a MIDI file is small and read whole); the predicate and projection apply per batch, and
    ``head(n)`` stops reading files once n rows are out. Arguments as ``read_midi``'s."""
    common = dict(table=table, threads=threads, velocity_threshold=velocity_threshold,
                  merge_window_ms=merge_window_ms, key_profile=key_profile,
                  storage_options=storage_options)
    schema = _midi_schema(paths, common)

    def source(with_columns, predicate, n_rows, batch_size) -> Iterator[pl.DataFrame]:
        stream = _rawarrow.read_midi(paths, **common)
        return _frames(stream, with_columns, predicate, n_rows, [], f"scan_midi {paths}")

    return register_io_source(source, schema=schema, explain_name="rawarrow.scan_midi",
                              explain_detail=str(paths))


def _midi_schema(paths, common) -> pl.Schema:
    """The table's schema, from the first batch of one file (MIDI has no empty read)."""
    stream = _rawarrow.read_midi(paths, files_per_batch=1, **common)
    try:
        return pl.DataFrame(next(iter(stream))).schema
    finally:
        stream.close()
