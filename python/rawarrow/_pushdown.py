"""What a lazy scan's conditions and projection make of the readers' keyword arguments, shared by
``rawarrow.polars`` and ``rawarrow.dataset`` (the library's planners, ``rawarrow::scan``, decide
what is pushed; this only carries their answer into ``read_bam`` / ``read_tdf``)."""

from typing import Any, Optional

from . import _rawarrow


def bam(paths: Any, conditions: list, wanted: Optional[set], names: list, options: dict,
        byte_range=None) -> tuple:
    """(read_bam keywords, notes) for reading `paths` with `options` (the scan's own: index,
    storage_options, reference, ...), the columns in `wanted` (None: all of `names`)."""
    regions, mapq, require, exclude, limit, notes = _rawarrow._push_bam(
        paths, conditions, index=options.get("index"),
        storage_options=options.get("storage_options"), reference=options.get("reference"),
        byte_range=byte_range)
    selection = dict(regions=regions or None, min_mapq=mapq, require_flags=require,
                     exclude_flags=exclude, limit=limit, byte_range=byte_range)
    if not regions:
        selection["index"] = None
    if wanted is not None:
        # `columns` names the fixed columns (tag columns and `file` come with their own
        # options); a projection of none of them (a count) decodes the smallest.
        fixed = [c for c in names if c in _rawarrow._BAM_COLUMNS and c in wanted]
        selection["columns"] = fixed or ["flag"]
        notes.append(f"columns {', '.join(c for c in names if c in wanted)}: pushed")
    return selection, notes


def tdf(conditions: list, wanted: Optional[set], names: list, table: str, frames=None) -> tuple:
    """(read_tdf keywords, notes) for reading `table` (of `frames` when given: a fragment's)."""
    selection, notes = _rawarrow._push_tdf(conditions, table=table, frames=frames)
    if frames is not None:
        selection.setdefault("frames", frames)
    if wanted is not None:
        selection["columns"] = [c for c in names if c in wanted] or names[:1]
        notes.append(f"columns {', '.join(selection['columns'])}: pushed")
    return selection, notes
