"""The search page's state (all in the URL) and the query it runs.

A search is ASE's query language (``MoS2``, ``gap>0,ehull<0.1``) plus filter
widgets, turned into one ASE selection list and run with ``db.count`` and
``db.select(..., sort=, limit=, offset=)``, as ASE's own web app does.
The URL parameters::

    q=gap>1          free query
    min-gap=0.5      range filter on a numeric key (also max-gap=...)
    eq-magstate=fm   select filter on a key
    columns=id,formula,gap
    sort=-gap        a column, '-' for descending
    page=2  limit=50
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ase.db.core import Database, float_to_time_string, now, parse_selection

from .cache import LRUCache
from .config import PAGE_SIZES, SORTABLE_SPECIAL, SPECIAL_COLUMNS, AppConfig
from .db import KeyStats, file_version
from .numbers import format_value
from .searchtable import SearchTable

MAX_QUERY = 2000
#: What ASE and SQLite raise for queries they cannot run.
QUERY_ERRORS = (
    sqlite3.Error,
    ValueError,
    KeyError,
    TypeError,
    AssertionError,
    OverflowError,
    IndexError,
)
FILTER_PREFIXES = ("min-", "max-", "eq-")


class QueryError(ValueError):
    """A query or filter the database cannot run; shown on the page (400)."""


@dataclass
class SearchState:
    query: str = ""
    filters: dict[str, str] = field(default_factory=dict)  # "min-gap": "0.5"
    columns: list[str] = field(default_factory=list)
    sort: str = ""
    page: int = 1
    limit: int = 25

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], config: AppConfig, stats: KeyStats
    ) -> SearchState:
        """The state named by URL parameters; unknown columns are dropped."""
        known = set(SPECIAL_COLUMNS) | set(stats.keys)
        if "columns" in args:
            names = [c.strip() for c in args["columns"].split(",")]
        else:
            names = list(config.default_columns)
        columns = list(dict.fromkeys(c for c in names if c in known))
        filters = {
            name: value.strip()
            for name, value in args.items()
            if name.startswith(FILTER_PREFIXES) and value and value.strip()
        }
        sort = args.get("sort", "").strip()
        if sort.lstrip("-") not in sortable_columns(stats):
            sort = ""
        limit = _int(args.get("limit"), config.page_size)
        return cls(
            query=args.get("q", "").strip()[:MAX_QUERY],
            filters=filters,
            columns=columns,
            sort=sort,
            page=max(1, _int(args.get("page"), 1)),
            limit=limit if limit in PAGE_SIZES else config.page_size,
        )

    def params(self, config: AppConfig, **changes: Any) -> dict[str, str]:
        """URL parameters for this state with `changes`; defaults left out."""
        state = replace(self, **changes)
        params: dict[str, str] = {}
        if state.query:
            params["q"] = state.query
        params.update(state.filters)
        if state.columns != list(config.default_columns):
            params["columns"] = ",".join(state.columns)
        if state.sort:
            params["sort"] = state.sort
        if state.page != 1:
            params["page"] = str(state.page)
        if state.limit != config.page_size:
            params["limit"] = str(state.limit)
        return params

    def next_sort(self, column: str) -> str:
        """Clicking a header: ascending, then descending, then unsorted."""
        if self.sort == column:
            return "-" + column
        if self.sort == "-" + column:
            return ""
        return column

    def selection(self, stats: KeyStats) -> list[Any]:
        """An ASE selection list for the query and the filters."""
        parts: list[Any] = [p.strip() for p in self.query.split(",") if p.strip()]
        for name, raw in sorted(self.filters.items()):
            prefix, _, key = name.partition("-")
            if key not in stats.keys:
                raise QueryError(f"there is no key {key!r} to filter on")
            if prefix in ("min", "max"):
                try:
                    value = float(raw)
                except ValueError:
                    raise QueryError(
                        f"the {prefix}imum of {key} must be a number, not {raw!r}"
                    ) from None
                if not math.isfinite(value):
                    raise QueryError(f"the {prefix}imum of {key} must be finite")
                parts.append((key, ">=" if prefix == "min" else "<=", value))
            else:
                parts.append((key, "=", raw))
        try:
            parse_selection(parts)
        except Exception as err:  # ASE raises many kinds for bad input
            raise QueryError(bad_query(self.query, err)) from None
        return parts


def bad_query(query: str, err: BaseException) -> str:
    detail = str(err).strip("'\" ") or type(err).__name__
    return (
        f"Bad query {query!r}: {detail}. Write conditions separated by commas, "
        "such as gap>1,ehull<0.1 or magstate=fm, or a formula such as MoS2."
    )


def sortable_columns(stats: KeyStats) -> set[str]:
    return set(SORTABLE_SPECIAL) | set(stats.keys)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


# -- running a search --------------------------------------------------------


@dataclass
class Column:
    key: str
    label: str
    description: str
    unit: str
    sortable: bool
    order: str  # "asc", "desc" or ""


@dataclass
class ResultRow:
    ident: str  # what /material/<ident> takes
    cells: list[str]


@dataclass
class SearchResult:
    columns: list[Column]
    rows: list[ResultRow]
    nrows: int  # rows matching
    total: int  # rows in the database
    page: int
    npages: int
    first: int  # 1-based number of the first row shown
    last: int

    def pages(self) -> list[int | None]:
        """Page numbers for the pager; None marks a gap."""
        wanted = {1, 2, self.npages - 1, self.npages}
        wanted.update(range(self.page - 2, self.page + 3))
        shown = sorted(p for p in wanted if 1 <= p <= self.npages)
        pages: list[int | None] = []
        for p in shown:
            if pages and pages[-1] is not None and p - pages[-1] > 1:
                pages.append(None)
            pages.append(p)
        return pages


def run_search(
    db: Database,
    state: SearchState,
    config: AppConfig,
    stats: KeyStats,
    counts: LRUCache[tuple, int] | None = None,
    table: SearchTable | None = None,
) -> SearchResult:
    """Count and fetch one page of rows; bad queries raise `QueryError`.

    With a search `table` (an SQLite database) the search runs there, else
    through ASE. Counts are kept in `counts` by selection and file version:
    sorting and paging a result (most views) then cost one query, not two.
    """
    selection = state.selection(stats)
    try:
        if table is not None:
            keys, cmps = parse_selection(selection)
            nrows = _count(
                db, selection, stats, counts, lambda: table.count(keys, cmps)
            )
        else:
            nrows = _count(db, selection, stats, counts, lambda: db.count(selection))
        npages = max(1, -(-nrows // state.limit))
        page = min(state.page, npages)
        offset = (page - 1) * state.limit
        if table is not None:
            rows: list[Any] = table.select(
                keys, cmps, sort=state.sort, limit=state.limit, offset=offset
            )
        else:
            rows = list(
                db.select(
                    selection,
                    sort=state.sort or None,
                    limit=state.limit,
                    offset=offset,
                    include_data=False,
                )
            )
    except QUERY_ERRORS as err:
        raise QueryError(bad_query(state.query, err)) from None
    sortable = sortable_columns(stats)
    columns = []
    for key in state.columns:
        info = config.describe(key)
        order = {key: "asc", "-" + key: "desc"}.get(state.sort, "")
        columns.append(
            Column(key, info.label, info.description, info.unit, key in sortable, order)
        )
    result_rows = [
        ResultRow(
            ident=row.get("unique_id") or str(row["id"] if table else row.id),
            cells=[
                format_value(cell_value(row, key), config.describe(key).digits)
                for key in state.columns
            ],
        )
        for row in rows
    ]
    first = (page - 1) * state.limit + 1 if rows else 0
    return SearchResult(
        columns,
        result_rows,
        nrows,
        stats.nrows,
        page,
        npages,
        first,
        first + len(rows) - 1 if rows else 0,
    )


def _count(
    db: Database,
    selection: list[Any],
    stats: KeyStats,
    counts: LRUCache[tuple, int] | None,
    count: Callable[[], int],
) -> int:
    if not selection:
        return stats.nrows
    if counts is None:
        return count()
    key = (repr(selection), file_version(db))
    found = counts.get(key)
    if found is None:
        found = count()
        counts.put(key, found)
    return found


def cell_value(row: Any, key: str) -> Any:
    """The value of a column for one row (None when it has none).

    `row` is an ASE row or a row of the search table (a dict).
    """
    if isinstance(row, dict):
        if key == "age":
            return float_to_time_string(now() - row["ctime"])
        if key in SPECIAL_COLUMNS:
            return row.get(key)
        return row["key_value_pairs"].get(key)
    if key == "age":
        return float_to_time_string(now() - row.ctime)
    if key == "pbc":
        return "".join("FT"[int(p)] for p in row.pbc)
    if key in SPECIAL_COLUMNS:
        try:
            return getattr(row, key, None)
        except (AttributeError, ValueError, TypeError):
            return None
    return row.key_value_pairs.get(key)
