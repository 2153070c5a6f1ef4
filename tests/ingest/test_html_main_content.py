"""HTML pages index their main content, not their navigation bars and tables of contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from localrag.ingest.loaders.html import load_html

BODY = "Valgrind runs your program on a synthetic CPU and checks every memory access it makes; {}."


def manual_page(n: int, title: str, sections: list[tuple[str, str]]) -> str:
    """A page shaped like the DocBook manuals distributions ship (the valgrind HTML manual, say)."""
    nav = (
        '<div><table class="nav" summary="Navigation header"><tr><td><a href="p.html">Prev</a></td>'
        '<td><a href="manual.html">Up</a></td><td><a href="index.html">Home</a></td>'
        '<th>Valgrind User Manual</th><td><a href="n.html">Next</a></td></tr></table></div>'
    )
    toc = (
        '<div class="toc"><p><b>Table of Contents</b></p><dl class="toc">'
        + "".join(
            f'<dt><span class="sect1"><a href="#s{i}">{n}.{i}. {h}</a></span></dt>'
            for i, (h, _) in enumerate(sections, 1)
        )
        + "</dl></div>"
    )
    body = "".join(
        f'<div class="sect1"><div class="titlepage"><div><div><h2 class="title"><a name="s{i}"></a>{n}.{i}. {h}</h2>'
        f"</div></div></div><p>{BODY.format(text)}</p><p>{text.capitalize()} is explained here in full, with the options "
        f"that change it and what each of them costs in speed.</p></div>"
        for i, (h, text) in enumerate(sections, 1)
    )
    footer = (
        '<div><br><table class="nav" summary="Navigation footer"><tr><td><a href="p.html">&lt;&lt; 1. Introduction</a></td>'
        '<td><a href="manual.html">Up</a></td><td><a href="n.html">3. Advanced Topics &gt;&gt;</a></td></tr>'
        '<tr><td><a href="index.html">Home</a></td></tr></table></div>'
    )
    return (
        f"<html><head><title>{n}. {title}</title></head><body>{nav}<div class='chapter'><div class='titlepage'><div><div>"
        f"<h1 class='title'><a name='top'></a>{n}. {title}</h1></div></div></div>{toc}{body}</div>{footer}</body></html>"
    )


SECTIONS = [("What Valgrind does", "instrumentation of the running program"), ("Getting started", "compiling with -g first"),
            ("Suppressing errors", "suppression files for system libraries")]  # fmt: skip


def test_navigation_and_table_of_contents_are_left_out_headings_kept():
    doc = load_html(manual_page(2, "Using the Valgrind core", SECTIONS))
    lines = doc.text.splitlines()
    for nav in (
        "Up",
        "Home",
        "Prev",
        "Next",
        "Valgrind User Manual",
        "<< 1. Introduction | Up | 3. Advanced Topics >>",
    ):
        assert not any(nav in ln for ln in lines if "|" in ln or ln.strip() == nav), (nav, doc.text)
    assert "<<" not in doc.text and ">>" not in doc.text
    assert "2.1. What Valgrind does\n\nValgrind runs your program" in doc.text  # the heading once, with its content
    assert doc.text.count("2.3. Suppressing errors") == 1  # not again from the table of contents
    for _, text in SECTIONS:
        assert text in doc.text
    assert [s.heading for s in doc.sections if s.text.strip()][-1] == (
        "2. Using the Valgrind core",
        "2.3. Suppressing errors",
    )
    assert ("2. Using the Valgrind core", "2.1. What Valgrind does") in [s.heading for s in doc.sections]


def test_a_fragment_trafilatura_finds_nothing_in_is_read_whole():
    doc = load_html("<p>Just a paragraph<br>with a break</p>")
    assert doc.text == "Just a paragraph\nwith a break"


def test_indexed_chunks_hold_content_not_navigation(tmp_path, make_settings, embedder):
    from localrag.indexer import index_folder
    from localrag.store import Store

    folder = tmp_path / "manual"
    folder.mkdir()
    (folder / "core.html").write_text(manual_page(2, "Using the Valgrind core", SECTIONS))
    (folder / "tools.html").write_text(manual_page(3, "Writing a tool", [("Tool basics", "the tool interface and its callbacks"),
                                                                           ("Debugging a tool", "running the tool under gdb")]))  # fmt: skip
    settings = make_settings(**{"embedder.backend": "torch"})
    store = Store.open(settings.index, settings, create=True)
    index_folder(store, folder, embedder, settings)
    texts = [row[0] for row in store.catalog._query("SELECT text FROM chunks")]
    store.close()
    joined = "\n".join(texts)
    assert "suppression files for system libraries" in joined and "running the tool under gdb" in joined
    assert "Home" not in joined and "<<" not in joined and "Table of Contents" not in joined
    assert not any(t.strip() in ("Up", "Prev", "Next") for t in texts)


VALGRIND = Path("/usr/share/doc/valgrind/html/manual-core.html")


@pytest.mark.skipif(not VALGRIND.is_file(), reason="a real generated manual: apt-get install valgrind")
def test_the_valgrind_manual_page_as_shipped():
    doc = load_html(VALGRIND.read_text(encoding="utf-8", errors="replace"))
    assert "Up |" not in doc.text and ">>" not in doc.text.split("\n")[-1]
    assert "2.1. What Valgrind does with your program" in doc.text
    assert doc.text.count("2.5. Suppressing errors") == 1  # the heading, not the table of contents entry too
    headings = {s.heading for s in doc.sections}
    assert ("2. Using and understanding the Valgrind core", "2.2. Getting started") in headings
    assert len(doc.text) > 100_000  # the chapter itself is all there
