"""Per-format loaders: the structure and metadata a citation needs."""

from __future__ import annotations

import pytest
from tests.fixtures import bad_files
from tests.ingest.ingest_checks import assert_sections_exact

from localrag.config import ChunkingSettings
from localrag.ingest import SUPPORTED_EXTENSIONS, SkipFile, format_of, load_document

S = ChunkingSettings()


def load(rel: str, data: bytes | str, settings: ChunkingSettings = S):
    doc = load_document(rel, data.encode() if isinstance(data, str) else data, settings)
    assert_sections_exact(doc)
    return doc


def headings(doc):
    return [s.heading for s in doc.sections]


def test_supported_extensions_and_names():
    assert {
        ".md",
        ".txt",
        ".rst",
        ".html",
        ".pdf",
        ".docx",
        ".py",
        ".ts",
        ".csv",
        ".json",
        ".yaml",
        ".toml",
    } <= SUPPORTED_EXTENSIONS
    assert format_of("a/README") == "plain" and format_of("Makefile") == "code"
    assert format_of("Notes.MD") == "markdown" and format_of("x.exe") is None


def test_markdown_atx_closing_hashes_and_indented_code_not_headings():
    doc = load("a.md", "# Title ##\n\n    # indented code, not a heading\n\ntext\n\n####### seven is not a heading\n")
    assert headings(doc) == [("Title",)]


def test_markdown_thematic_break_after_paragraph_block_is_not_a_heading():
    doc = load("a.md", "# H\n\nline one\nline two\n---\n\nafter\n")
    assert headings(doc) == [("H",)]


def test_rst_levels_follow_first_use():
    doc = load(
        "a.rst",
        "Title\n#####\n\nintro\n\nPart\n====\n\npart text\n\nDetail\n------\n\ndetail\n\nNext part\n=========\n\nmore\n",
    )
    assert headings(doc) == [("Title",), ("Title", "Part"), ("Title", "Part", "Detail"), ("Title", "Next part")]
    assert doc.sections[2].line_start == 11


def test_html_without_body_main_or_title():
    doc = load("a.html", "<p>Just a paragraph<br>with a break</p><script>x()</script>")
    assert doc.text == "Just a paragraph\nwith a break"
    assert headings(doc) == [()]


def test_html_article_rows_and_hidden():
    html = """<html><head><title>Site: Page</title></head><body>
    <div role="navigation">menu</div><aside>ads</aside>
    <article><h2>Results</h2><table><tr><th>Plant</th><th>Yield</th></tr><tr><td>Tomato</td><td>4 kg</td></tr></table>
    <p hidden>secret</p><p>Done&nbsp;here.</p></article></body></html>"""
    doc = load("r.htm", html)
    assert headings(doc) == [("Site: Page", "Results")]
    assert "Plant | Yield\n\nTomato | 4 kg" in doc.text
    assert "menu" not in doc.text and "ads" not in doc.text and "secret" not in doc.text


def test_code_sections_per_language():
    go = 'package main\n\nimport "fmt"\n\n// Add adds.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\nfunc (s *Server) Serve() {\n}\n\ntype Point struct{ X int }\n'
    assert headings(load("m.go", go)) == [(), ("Add",), ("Serve",), ("Point",)]
    assert load("m.go", go).sections[1].text.startswith("// Add adds.")
    rs = "use std::io;\n\n#[derive(Debug)]\npub struct P { x: i32 }\n\nimpl P {\n    fn new() -> Self { P { x: 0 } }\n}\n\npub async fn run() {}\n"
    assert headings(load("m.rs", rs)) == [(), ("P",), ("impl P",), ("run",)]
    rb = "require 'x'\n\nmodule Garden\n  def water; end\nend\n\ndef helper\nend\n"
    assert headings(load("g.rb", rb)) == [(), ("Garden",), ("helper",)]
    sh = "#!/bin/sh\nset -e\n\nbuild() {\n  make\n}\n\nfunction deploy {\n  echo\n}\n"
    assert headings(load("run.sh", sh)) == [(), ("build",), ("deploy",)]
    java = "package x;\n\npublic final class Garden {\n  void water() {}\n}\n"
    assert headings(load("Garden.java", java)) == [(), ("Garden",)]
    assert headings(load("Makefile", "CC=gcc\n\nall: build\n\techo\n\nbuild:\n\tgcc x.c\n")) == [
        (),
        ("all",),
        ("build",),
    ]
    css = "body { color: red; }\n\n.x { margin: 0 }\n"
    assert [s.kind for s in load("s.css", css).sections] == ["code"]


def test_data_files_capped_with_a_note():
    rows = "id,plant,notes\n" + "".join(f"{i},tomato,row {i}\n" for i in range(5000))
    doc = load("d.yaml", rows, ChunkingSettings(max_data_chars=5000))
    assert 2500 < len(doc.text) <= 5000
    assert rows.startswith(doc.text + "\n")  # cut at a line end
    assert doc.notes and doc.notes[0].startswith("truncated: indexed the first")
    assert doc.sections[0].kind == "table"
    small = load("c.json", '{"a": 1}\n')
    assert small.notes == [] and small.sections[0].text == '{"a": 1}'


def test_content_sniffing_beats_extension():
    import fpdf

    p = fpdf.FPDF()
    p.add_page()
    p.set_font("helvetica", size=12)
    p.cell(0, 10, "hidden pdf")
    doc = load("misnamed.txt", bytes(p.output()))
    assert doc.sections[0].page == 1 and "hidden pdf" in doc.text


def test_old_word_or_encrypted_office_file():
    with pytest.raises(SkipFile, match="password-protected or old-format file"):
        load_document("x.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), S)


def test_pdf_page_spans_index_the_extracted_text(tmp_path):
    files = bad_files.write_bad_files(tmp_path / "f")
    assert files["good-multipage.pdf"] == "ok"
    doc = load("p.pdf", (tmp_path / "f" / "good-multipage.pdf").read_bytes())
    assert doc.text.count("\n\n") >= 2  # pages joined by blank lines
    for s in doc.sections:
        assert doc.text[s.char_start : s.char_end].startswith(f"Page {s.page}:")


def test_long_python_class_split_at_methods():
    body = "\n".join(f"        x{i} = {i}" for i in range(40))
    src = (
        'import os\n\n\nclass Garden:\n    """Beds."""\n\n    def __init__(self):\n'
        + body
        + "\n\n    @property\n    def beds(self):\n"
        + body
        + "\n\n\ndef helper():\n    pass\n"
    )
    doc = load("g.py", src)
    assert headings(doc) == [(), ("Garden",), ("Garden", "__init__"), ("Garden", "beds"), ("helper",)]
    beds = doc.sections[3]
    assert beds.text.startswith("@property")  # decorator kept with its method
    assert beds.line_start == src.split("\n").index("    @property") + 1
    short = load("s.py", "class Small:\n    def a(self):\n        pass\n")
    assert headings(short) == [("Small",)]  # short classes stay one section
