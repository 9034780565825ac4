"""How Results, Records and lists of Records render: rich, HTML, one line."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from ase.build import bulk
from rich.console import Console

from asr.core import Record, Result, instruction, key
from asr.core.cache import select
from asr.core.presentation import UnloadedResult, rich_value, summarise
from asr.core.records import Records
from asr.store import Tagged, codec, decode, encode


@dataclass
class GapResult(Result):
    title = "Gaps [eV]"
    gap: float = field(metadata=key("Band gap [indirect]", "eV"))
    wyckoff: list = field(metadata=key("Wyckoff letters"))
    cell: np.ndarray = field(metadata=key("Cell lengths", "Å"))
    note: str = field(metadata=key("A note"))


TAG = f"result:{__name__}.GapResult"


def gap_result() -> GapResult:
    return GapResult(
        gap=1.69832000001,
        wyckoff=["b", "b"],
        cell=np.array([3.839589821, 3.839589821, 60.0]),
        note="<b>bold</b> [red]",
    )


def render(renderable, width: int = 120) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def line_of(text: str, word: str) -> str:
    return next(line for line in text.splitlines() if f" {word} " in line)


def unloaded(value, monkeypatch):
    """`value` encoded and decoded by a process that does not know GapResult."""
    data = encode(value)
    monkeypatch.delitem(codec._by_tag, TAG)
    return decode(data)


def test_result_table_shows_text_as_it_is():
    text = render(gap_result())
    assert "Gaps [eV]" in text
    assert "[b, b]" in line_of(text, "wyckoff")
    assert "<b>bold</b> [red]" in line_of(text, "note")
    assert "Band gap [indirect]" in line_of(text, "gap")


def test_result_table_numbers_and_units():
    text = render(gap_result())
    gap = line_of(text, "gap")
    assert "1.69832 " in gap and "1.698320000" not in gap
    assert " eV " in gap  # the unit, in its own column
    cell = line_of(text, "cell")
    assert "[3.83959, 3.83959, 60]" in cell and " Å " in cell


def test_summaries_of_numbers():
    assert summarise(np.array([60.0, 60.0, 60.0])) == "[60, 60, 60]"
    assert summarise(np.float32(0.1)) == "0.1"
    assert summarise([np.float64(1.69832000001), 2]) == "[1.69832, 2]"
    assert summarise(np.eye(2)) == "[[1, 0], [0, 1]]"


def test_record_table_escapes_arguments_and_shows_result_keys():
    record = Record("my.gap", 0, {"letters": ["a", "b"]}, gap_result())
    text = render(record)
    assert "[a, b]" in text
    assert "Gaps [eV]" in text  # the Result's own table, with its columns
    assert "Band gap [indirect]" in text and " eV " in text


def test_unloaded_result_renders_as_a_table(monkeypatch):
    tagged = unloaded(gap_result(), monkeypatch)
    assert isinstance(tagged, Tagged) and tagged.tag == TAG
    title = f"GapResult ({__name__}, not loaded)"
    text = render(rich_value(tagged))
    assert title in text
    assert "[b, b]" in line_of(text, "wyckoff")
    assert "1.69832" in line_of(text, "gap")
    assert "Tagged(" not in text
    assert summarise(tagged) == "GapResult(gap=1.69832, note=<b>bold</b> [red])"


def test_record_of_unloaded_result_renders(monkeypatch):
    record = Record("my.gap", 0, {}, gap_result())
    record.result = unloaded(record.result, monkeypatch)
    text = render(record, width=100)
    assert f"GapResult ({__name__}, not loaded)" in text
    assert "Tagged" not in text
    assert "[3.83959, 3.83959, 60]" in text
    page = record._repr_html_()
    assert f"GapResult ({__name__}, not loaded)" in page
    assert "<td style='text-align:left'>wyckoff</td>" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    assert "Tagged" not in page
    assert record.result_summary().startswith("GapResult(gap=1.69832")


def test_other_tagged_values_summarise_without_repr():
    assert summarise(Tagged("my.point", {"x": 1.0})) == "<my.point> {x=1}"
    assert UnloadedResult.of(Tagged("my.point", {"x": 1.0})) is None


def test_html_of_result_and_record_has_units_and_escapes():
    page = gap_result()._repr_html_()
    assert "<caption style='text-align:left'>Gaps [eV]</caption>" in page
    assert "<td style='text-align:left'>eV</td>" in page
    assert "&lt;b&gt;bold&lt;/b&gt; [red]" in page and "<b>bold" not in page
    record = Record("my.gap", 0, {"x": "<i>"}, gap_result(), metadata={})
    page = record._repr_html_()
    assert "Band gap [indirect]" in page and "&lt;i&gt;" in page
    assert "<i>" not in page


@instruction("test.presentation.gap")
def make_gap(atoms, label: str = "[x]") -> GapResult:
    return gap_result()


def test_select_returns_records_that_render(store):
    make_gap(bulk("Si"))
    make_gap(bulk("Cu"), label="<y>")
    found = select(name="test.presentation.gap")
    assert isinstance(found, Records) and len(found) == 2
    assert isinstance(found[:1], Records) and isinstance(found[0], Record)
    page = found._repr_html_()
    assert page.count("<tr>") == 3  # a header and a row per Record
    for record in found:
        assert f"<td style='text-align:left'>{record.uid[:12]}</td>" in page
    assert "label=&lt;y&gt;" in page and "<y>" not in page
    assert "GapResult(gap=1.69832, note=&lt;b&gt;bold&lt;/b&gt; [red])" in page
    text = render(found, width=200)
    assert "2 records" in text and "label=[x]" in text
    assert "GapResult(gap=1.69832" in text
