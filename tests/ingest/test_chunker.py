"""chunk_sections: exact spans, token limits, overlap, structure kept."""

from __future__ import annotations

import time

import pytest

from localrag.ingest import chunk_sections, load_document
from localrag.ingest.loaders.plain import load_plain
from localrag.types import Section

from tests.ingest.ingest_checks import assert_chunks_exact, count_words

PROSE = " ".join(f"Sentence number {i} talks about tomatoes and basil." for i in range(200))


def test_small_section_is_one_chunk_with_its_metadata():
    sec = Section(text="Hello there.", heading=("A", "B"), page=3, line_start=7, line_end=7, char_start=10, char_end=22)
    [chunk] = chunk_sections([sec], count_words, 50, 10, 60)
    assert (chunk.text, chunk.heading, chunk.page, chunk.line_start, chunk.line_end) == (
        "Hello there.",
        ("A", "B"),
        3,
        7,
        7,
    )
    assert (chunk.char_start, chunk.char_end, chunk.n_tokens, chunk.ordinal) == (10, 22, 2, 0)


def test_long_paragraph_splits_at_sentences_within_limits():
    doc = load_plain(PROSE)
    chunks = chunk_sections(doc.sections, count_words, 40, 0, 50)
    assert len(chunks) > 10
    assert_chunks_exact(doc.text, chunks, count_words, 50)
    assert all(c.n_tokens <= 40 for c in chunks)
    assert all(c.text.startswith("Sentence") and c.text.endswith(".") for c in chunks)
    # without overlap the chunks tile the text in order
    assert all(a.char_end < b.char_start for a, b in zip(chunks, chunks[1:]))


def test_overlap_repeats_the_tail_of_the_previous_chunk():
    doc = load_plain(PROSE)
    chunks = chunk_sections(doc.sections, count_words, 40, 12, 50)
    assert_chunks_exact(doc.text, chunks, count_words, 50)
    for a, b in zip(chunks, chunks[1:]):
        assert a.char_start < b.char_start < a.char_end  # overlapping, moving forward
        shared = doc.text[b.char_start : a.char_end]
        assert 0 < count_words(shared) <= 12
        assert shared.startswith("Sentence")  # cut at a sentence start
        assert b.n_tokens <= 40


def test_paragraphs_packed_not_split_when_they_fit():
    paras = [f"Paragraph {i} " + "word " * 9 for i in range(6)]  # 11 words each
    text = "\n\n".join(p.strip() for p in paras)
    doc = load_plain(text)
    chunks = chunk_sections(doc.sections, count_words, 25, 0, 30)
    assert [c.text.count("Paragraph") for c in chunks] == [2, 2, 2]
    assert_chunks_exact(doc.text, chunks, count_words, 30)


def test_fenced_code_kept_whole_when_it_fits_max_tokens():
    code = "```python\n" + "\n\n".join(f"x{i} = {i}" for i in range(20)) + "\n```"
    text = "# T\n\nIntro line.\n\n" + code + "\n\nAfter."
    doc = load_document("a.md", text.encode(), _settings())
    chunks = chunk_sections(doc.sections, count_words, 30, 0, 70)
    assert any(c.text.endswith(code) for c in chunks)  # 62 words: over size, under max: whole
    assert_chunks_exact(doc.text, chunks, count_words, 70)
    # over max_tokens: split at blank lines inside the fence instead of failing
    chunks = chunk_sections(doc.sections, count_words, 30, 0, 40)
    assert_chunks_exact(doc.text, chunks, count_words, 40)
    assert not any(c.text.endswith(code) for c in chunks)


def test_long_single_line_chunks_by_words(minilm_count):
    # 300 kB here to keep the suite fast; tests/ingest/test_bad_files.py chunks a 1 MB line
    line = " ".join(f"w{i % 997}alpha" for i in range(33_000))  # one line, no sentences
    assert len(line) > 300_000
    doc = load_plain(line)
    t0 = time.perf_counter()
    chunks = chunk_sections(doc.sections, minilm_count, 200, 32, 256)
    elapsed = time.perf_counter() - t0
    assert_chunks_exact(doc.text, chunks, minilm_count, 256)
    assert all(c.line_start == c.line_end == 1 for c in chunks)
    assert chunks[-1].char_end == len(line)
    assert elapsed < 20, elapsed


def test_huge_word_is_cut_by_characters():
    blob = "x" * 5000  # BERT would call this one [UNK]; the char cap still cuts it
    doc = load_plain("start " + blob + " end")
    chunks = chunk_sections(doc.sections, lambda t: 1 + len(t) // 40, 50, 0, 60)
    assert "".join(c.text for c in chunks).replace(" ", "") == ("start" + blob + "end")
    assert all(len(c.text) <= 60 * 10 for c in chunks)


def test_cjk_without_spaces_splits_at_full_stops(minilm_count):
    text = "。".join(["番茄需要每周施肥一次并且保持土壤湿润"] * 60) + "。"
    doc = load_plain(text)
    chunks = chunk_sections(doc.sections, minilm_count, 64, 8, 80)
    assert len(chunks) > 3
    assert_chunks_exact(doc.text, chunks, minilm_count, 80)


def test_chunks_never_cross_sections_and_ordinals_run_across_them():
    secs = [
        Section(text="alpha " * 30, heading=("A",), char_start=0, char_end=180, line_start=1, line_end=1),
        Section(text="beta " * 30, heading=("B",), char_start=200, char_end=350, line_start=3, line_end=3),
    ]
    for s in secs:
        s.text = s.text.strip()
        s.char_end = s.char_start + len(s.text)
    chunks = chunk_sections(secs, count_words, 10, 3, 12)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert {c.heading for c in chunks if "alpha" in c.text} == {("A",)}
    assert not any("alpha" in c.text and "beta" in c.text for c in chunks)


def test_real_tokenizer_counts_respected_on_markdown(minilm_count):
    md = "# Guide\n\n" + "\n\n".join(
        f"## Part {i}\n\n"
        + " ".join(f"The {i}th step configures the widget's retry-policy (v{i}.{i})." for _ in range(25))
        for i in range(5)
    )
    doc = load_document("g.md", md.encode(), _settings())
    chunks = chunk_sections(doc.sections, minilm_count, 128, 24, 160)
    assert_chunks_exact(doc.text, chunks, minilm_count, 160)
    assert {c.heading for c in chunks} == {("Guide", f"Part {i}") for i in range(5)}


@pytest.mark.parametrize("size,overlap,max_tokens", [(0, 0, 10), (20, 20, 30), (40, 0, 30)])
def test_bad_parameters_rejected(size, overlap, max_tokens):
    with pytest.raises(ValueError):
        chunk_sections([], count_words, size, overlap, max_tokens)


def _settings():
    from localrag.config import ChunkingSettings

    return ChunkingSettings()
