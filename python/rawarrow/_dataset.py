"""``rawarrow.dataset``: a ``pyarrow.dataset.Dataset`` over BAM/CRAM, timsTOF or MIDI inputs
whose ``scanner(columns=..., filter=...)`` pushes the projection and the filter into the reader
— what DuckDB calls for ``select ... from ds where ...``, and what pyarrow's ``to_table``,
Dask and Ray's pyarrow-dataset readers call.

The filter (a ``pyarrow.compute.Expression``) is taken apart into the conditions of its
top-level conjunction; the library's planners (``rawarrow::scan``) turn those they can into
regions, FLAG/MAPQ filters and timsTOF slices; the whole filter is then applied by pyarrow's
scanner to what the reader yields, so the rows are always exactly the filter's.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from . import _pushdown, _rawarrow

log = logging.getLogger("rawarrow")

_SELECTION = {
    "bam": {"columns", "regions", "min_mapq", "require_flags", "exclude_flags", "limit",
            "byte_range"},
    "tdf": {"columns", "frames", "rt", "mobility", "mz", "ms_level"},
    "midi": set(),
}

# ---------------------------------------------------------------------------------------------
# pyarrow.compute.Expression as text → a small tree.

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)'
                    r"|(?P<op>==|!=|<=|>=|<|>)|(?P<name>[A-Za-z_][A-Za-z_0-9.]*)|(?P<p>[(),{}\[\]=:]))")


class _Unparsed(Exception):
    pass


def _tokens(text: str) -> list:
    out, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if not m:
            raise _Unparsed(text[at:at + 20])
        at = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].encode().decode("unicode_escape")
        elif kind == "num":
            value = float(value) if any(c in value for c in ".eE") else int(value)
        out.append((kind, value))
    return out


class _Parser:
    """The subset of Expression's text that filters use: ``(a op b)``, ``f(args)``, fields,
    literals and ``is_in``'s ``{value_set=TYPE:[...], ...}`` options."""

    def __init__(self, text: str):
        self.t = _tokens(text)
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise _Unparsed(f"expected {value!r}, got {tok!r}")
        self.i += 1
        return tok

    def expr(self):
        kind, value = self.peek()
        if value == "(":
            self.take("(")
            left = self.expr()
            kind, op = self.take()
            if op not in ("==", "!=", "<", "<=", ">", ">=", "and", "or"):
                raise _Unparsed(op)
            right = self.expr()
            self.take(")")
            return ("call", op, [left, right])
        if kind in ("str", "num"):
            self.take()
            return ("lit", value)
        if kind == "name":
            self.take()
            if value in ("true", "false"):
                return ("lit", value == "true")
            if self.peek()[1] == "[" and value == "null":
                self.skip_brackets("[", "]")
                return ("lit", None)
            if self.peek()[1] != "(":
                return ("field", value)
            self.take("(")
            args = []
            while self.peek()[1] != ")":
                if self.peek()[1] == "{":
                    args.append(self.options())
                else:
                    args.append(self.expr())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take(")")
            return ("call", value, args)
        raise _Unparsed(repr(value))

    def skip_brackets(self, open_, close):
        depth = 0
        while True:
            _, v = self.take()
            depth += v == open_
            depth -= v == close
            if depth == 0:
                return

    def options(self):
        """``{value_set=TYPE:[v, ...], ...}`` → ("set", [v, ...]); other options skipped."""
        self.take("{")
        values = None
        while self.peek()[1] != "}":
            _, key = self.take()
            if key == "value_set":
                self.take("=")
                while self.peek()[1] != "[":
                    self.take()
                self.take("[")
                values = []
                while self.peek()[1] != "]":
                    kind, v = self.take()
                    if kind not in ("str", "num"):
                        raise _Unparsed(repr(v))
                    values.append(v)
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take("]")
            elif self.peek()[1] == "=":
                self.take("=")
                self.take()
            if self.peek()[1] == ",":
                self.take(",")
        self.take("}")
        if values is None:
            raise _Unparsed("is_in without a value_set")
        return ("set", values)


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _leaves(node) -> Iterator[tuple]:
    """The conditions of a conjunction's terms (those that are not simple are skipped)."""
    kind, name, *rest = node
    if kind != "call":
        return
    args = rest[0]
    if name in ("and", "and_kleene"):
        for a in args:
            yield from _leaves(a)
    elif name in _FLIP and len(args) == 2:
        (ka, va), (kb, vb) = args[0][:2], args[1][:2]
        if ka == "field" and kb == "lit" and vb is not None and not isinstance(vb, bool):
            yield (va, name, [vb])
        elif kb == "field" and ka == "lit" and va is not None and not isinstance(va, bool):
            yield (vb, _FLIP[name], [va])
    elif name == "is_in" and len(args) == 2 and args[0][0] == "field" and args[1][0] == "set":
        yield (args[0][1], "in", args[1][1])
    elif name == "if_else" and len(args) == 3 and args[0][:2] == ("call", "is_valid"):
        # DuckDB's IN: if_else(is_valid(x), is_in(x, set), null)
        yield from _leaves(args[1])


def conditions(expr: Optional[Any]) -> tuple:
    """(conditions, the fields the expression reads or None when it could not be read)."""
    if expr is None:
        return [], set()
    try:
        tree = _Parser(str(expr)).expr()
    except (_Unparsed, ValueError, IndexError, UnicodeDecodeError):
        return [], None
    fields = set()

    def walk(n):
        if n[0] == "field":
            fields.add(n[1])
        elif n[0] == "call":
            for a in n[2]:
                walk(a)

    walk(tree)
    return list(_leaves(tree)), fields


# ---------------------------------------------------------------------------------------------


class Dataset(ds.Dataset):
    """A ``pyarrow.dataset.Dataset`` read by rawarrow (see ``rawarrow.dataset``). Its scans
    push projection and filter into the reader; methods that need pyarrow's own files
    (fragments, ``take``, joins) raise ``NotImplementedError``."""

    def __init__(self, paths: Any, format: str, options: dict, filter: Any = None):
        # pyarrow.dataset.Dataset cannot be constructed: this subclass never calls its
        # constructor and overrides every method that would reach the C++ dataset.
        self._paths = paths
        self._format = format
        self._options = options
        self._filter = filter
        first = {"bam": dict(limit=0), "tdf": dict(frames=(0, 0)), "midi": dict(files_per_batch=1)}
        stream = self._read(paths, **first[format])
        try:
            reader = pa.RecordBatchReader.from_stream(stream)
            self._schema = reader.schema
        finally:
            stream.close()

    def _read(self, paths, **selection):
        read = {"bam": _rawarrow.read_bam, "tdf": _rawarrow.read_tdf,
                "midi": _rawarrow.read_midi}[self._format]
        return read(paths, **{**self._options, **selection})

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def partition_expression(self):
        return pc.scalar(True)

    def __repr__(self) -> str:
        return f"rawarrow.Dataset({self._format}, {self._paths!r})"

    def _combined(self, filter):
        if self._filter is None:
            return filter
        return self._filter if filter is None else (self._filter & filter)

    def scanner(self, columns=None, filter=None, batch_size=None, **_ignored):
        """A ``pyarrow.dataset.Scanner`` over the reader's batches, with `columns` and `filter`
        pushed into the reader as far as it can select, and applied exactly by pyarrow."""
        return self._scan(columns, filter, batch_size, {})

    def _scan(self, columns, filter, batch_size, piece):
        """The scanner of the whole dataset (`piece` empty) or of one fragment: `piece` holds
        its paths, byte range (BAM) or frames (timsTOF)."""
        paths = piece.get("paths", self._paths)
        filter = self._combined(filter)
        conds, fields = conditions(filter)
        names = self._schema.names
        if isinstance(columns, dict):
            wanted = None  # computed columns: read them all
        elif columns is None:
            wanted = None
        else:
            wanted = set(columns) | (fields if fields is not None else set(names))
        selection, notes = {}, []
        if self._format == "bam":
            selection, notes = _pushdown.bam(paths, conds, wanted, names, self._options,
                                             byte_range=piece.get("byte_range"))
        elif self._format == "tdf":
            selection, notes = _pushdown.tdf(conds, wanted, names,
                                             self._options.get("table", "peaks"),
                                             frames=piece.get("frames"))
        if batch_size:
            selection["batch_rows"] = batch_size
        if self._format == "bam" and selection.get("limit") == 0:
            reader = pa.RecordBatchReader.from_batches(self._project(wanted), iter(()))
        else:
            reader = pa.RecordBatchReader.from_stream(self._read(paths, **selection))
        log.debug("dataset %s%s: %s; reading %s", paths, piece.get("byte_range") or
                  piece.get("frames") or "", "; ".join(notes) or "nothing pushed",
                  ", ".join(reader.schema.names))
        return ds.Scanner.from_batches(reader, columns=columns,
                                       filter=filter)

    def _project(self, wanted):
        if wanted is None:
            return self._schema
        return pa.schema([f for f in self._schema if f.name in wanted or f.name == "file"],
                         metadata=self._schema.metadata)

    def to_table(self, columns=None, filter=None, **kw) -> pa.Table:
        return self.scanner(columns=columns, filter=filter, **kw).to_table()

    def to_batches(self, columns=None, filter=None, **kw):
        return self.scanner(columns=columns, filter=filter, **kw).to_batches()

    def count_rows(self, filter=None, **kw) -> int:
        return self.scanner(columns=[], filter=filter, **kw).count_rows()

    def head(self, num_rows, columns=None, filter=None, **kw) -> pa.Table:
        return self.scanner(columns=columns, filter=filter, **kw).head(num_rows)

    def get_fragments(self, filter=None, split_bytes=128 << 20, peaks_per_split=50_000_000,
                      files_per_split=1000):
        """The pieces a cluster reads independently, as the Ray datasource plans them: BAM byte
        ranges of about `split_bytes` (no index needed; every record in exactly one), timsTOF
        groups of whole frames of about `peaks_per_split` peaks, lists of MIDI files. Each is a
        fragment whose ``scanner``/``to_table``/``to_batches`` push `filter` (and their own)
        as the dataset's do."""
        storage = self._options.get("storage_options")
        if self._format == "bam":
            pieces = [dict(paths=p, byte_range=(a, b))
                      for p, a, b in _rawarrow._plan_bam(self._paths, split_bytes, storage)]
        elif self._format == "tdf":
            pieces = [dict(frames=(a, b))
                      for a, b, _ in _rawarrow._plan_tdf(self._paths, peaks_per_split, storage)]
        else:
            pieces = [dict(paths=ps)
                      for ps, _ in _rawarrow._plan_midi(self._paths, files_per_split, storage)]
        return [Fragment(self, p, filter) for p in pieces]

    def filter(self, expression) -> "Dataset":
        out = Dataset.__new__(Dataset)
        out.__dict__.update(self.__dict__)
        out._filter = self._combined(expression)
        return out

    def __getattribute__(self, name):
        # Anything else of pyarrow's Dataset would reach a C++ dataset that does not exist.
        if name in _REFUSED:
            raise NotImplementedError(f"rawarrow.Dataset has no {name}()")
        return super().__getattribute__(name)


_REFUSED = {n for n in dir(ds.Dataset) if not n.startswith("_")} - {
    "schema", "partition_expression", "scanner", "to_table", "to_batches", "count_rows", "head",
    "filter", "get_fragments"}


class Fragment(ds.Fragment):
    """One piece of a :class:`Dataset` (see ``Dataset.get_fragments``): a BAM byte range, a
    timsTOF frame range or a list of MIDI files, scanned with the dataset's pushdown."""

    def __init__(self, dataset: Dataset, piece: dict, filter: Any = None):
        # As for the Dataset: pyarrow's constructor is never called.
        self._dataset = dataset
        self._piece = piece
        self._filter = filter

    @property
    def physical_schema(self) -> pa.Schema:
        return self._dataset.schema

    @property
    def partition_expression(self):
        return pc.scalar(True)

    def __repr__(self) -> str:
        return f"rawarrow.Fragment({self._piece})"

    def __reduce__(self):
        return (Fragment, (self._dataset, self._piece, self._filter))

    def scanner(self, schema=None, columns=None, filter=None, batch_size=None, **_ignored):
        if self._filter is not None:
            filter = self._filter if filter is None else self._filter & filter
        return self._dataset._scan(columns, filter, batch_size, self._piece)

    def to_table(self, schema=None, columns=None, filter=None, **kw) -> pa.Table:
        return self.scanner(columns=columns, filter=filter, **kw).to_table()

    def to_batches(self, schema=None, columns=None, filter=None, **kw):
        return self.scanner(columns=columns, filter=filter, **kw).to_batches()

    def count_rows(self, filter=None, **kw) -> int:
        return self.scanner(columns=[], filter=filter, **kw).count_rows()

    def head(self, num_rows, columns=None, filter=None, **kw) -> pa.Table:
        return self.scanner(columns=columns, filter=filter, **kw).head(num_rows)

    def __getattribute__(self, name):
        if name in _FRAGMENT_REFUSED:
            raise NotImplementedError(f"rawarrow.Fragment has no {name}()")
        return super().__getattribute__(name)


_FRAGMENT_REFUSED = {n for n in dir(ds.Fragment) if not n.startswith("_")} - {
    "physical_schema", "partition_expression", "scanner", "to_table", "to_batches", "count_rows",
    "head"}


def dataset(paths: Any, format: Optional[str] = None, **options) -> Dataset:
    """See ``rawarrow.dataset``."""
    if format is None:
        first = paths if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else \
            next(iter(paths))
        format = _rawarrow.detect(first)
    if format not in _SELECTION:
        raise ValueError(f"format {format!r}: expected 'bam', 'tdf' or 'midi'")
    chosen = _SELECTION[format] & set(options)
    if chosen:
        raise TypeError(f"{', '.join(sorted(chosen))}: given by the query's filter and "
                        "projection, not to rawarrow.dataset")
    return Dataset(paths, format, options)
