"""Markdown and plain text loading: heading paths, fences, line and char spans."""

from __future__ import annotations

from tests.ingest.ingest_checks import assert_sections_exact

from localrag.ingest import load_document, load_sections

MD = """---
title: Garden notes
---
Preface line.

# Garden

Intro.

## Tomatoes `Solanum`

Feed **weekly** with [comfrey tea](http://x).

```sh
# not a heading
echo hi
```

## Empty parent
### Child

Child body.

Setext Title
============

Under setext.
"""


def test_heading_paths_and_spans(settings):
    doc = load_document("notes/garden.md", MD.encode(), settings)
    assert_sections_exact(doc)
    headings = [s.heading for s in doc.sections]
    assert headings == [
        (),
        ("Garden",),
        ("Garden", "Tomatoes Solanum"),
        ("Garden", "Empty parent", "Child"),
        ("Setext Title",),
    ]
    tomatoes = doc.sections[2]
    assert "# not a heading" in tomatoes.text  # inside a fence: not a heading
    assert tomatoes.line_start == 10 and tomatoes.line_end == 17
    # a heading with nothing under it is folded into the next section
    child = doc.sections[3]
    assert child.text.startswith("## Empty parent\n### Child")


def test_crlf_and_bom_give_same_sections(settings):
    crlf = ("\ufeff" + MD.replace("\n", "\r\n")).encode("utf-8")
    a = load_sections("a.md", MD.encode(), settings)
    b = load_sections("a.md", crlf, settings)
    assert [(s.text, s.heading, s.line_start, s.char_start) for s in a] == [
        (s.text, s.heading, s.line_start, s.char_start) for s in b
    ]


def test_plain_text_is_one_section_with_lines(settings):
    doc = load_document("x.txt", b"\n\nfirst line\nsecond\n\n", settings)
    assert_sections_exact(doc)
    [s] = doc.sections
    assert (s.text, s.line_start, s.line_end, s.heading) == ("first line\nsecond", 3, 4, ())


def test_heading_titles_lose_markup_but_keep_identifiers():
    from localrag.ingest.loaders.headings import clean_title

    assert clean_title("Using **Q4_K_M** quants") == "Using Q4_K_M quants"
    assert clean_title("The `models_dir` key") == "The models_dir key"
    assert clean_title("_emphasis_ and *star* [link](http://x)") == "emphasis and star link"
