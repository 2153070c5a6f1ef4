"""localrag.toml validation (unknown keys, wrong types: file, key and expected type named, exit 2)
and `localrag config show` (every value with where it came from), through the real CLI entry point."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from localrag.cli import main
from localrag.config import load_settings
from localrag.errors import ConfigError


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run from an empty folder with no LOCALRAG_* variables, so only what a test writes applies."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("LOCALRAG_")]:
        monkeypatch.delenv(name)
    return tmp_path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


BAD_FILES = {
    # toml text: (key named, expected type / hint named)
    "retrieval.kk = 3\n": ("unknown config key 'retrieval.kk'", "did you mean 'retrieval.k'?"),
    "[llm]\nmodle = 'x'\n": ("unknown config key 'llm.modle'", "did you mean 'llm.model'?"),
    "[colours]\nbackground = 'red'\n": ("unknown config key 'colours'", ""),
    "[retrieval]\nk = 'five'\n": ("'retrieval.k'", "expected an integer, got 'five'"),
    "retrieval.rerank = 'maybe'\n": ("'retrieval.rerank'", "expected true or false, got 'maybe'"),
    "llm.backend = 'gpt'\n": ("'llm.backend'", "expected one of 'llama-cpp', 'openai', 'none', got 'gpt'"),
    "embedder.batch_size = 1.5\n": ("'embedder.batch_size'", "expected an integer, got 1.5"),
    "llm.n_threads = 'all'\n": ("'llm.n_threads'", "expected an integer (or left out), got 'all'"),
    "retrieval = 5\n": ("'retrieval'", "expected a table of settings, got 5"),
    "index = 5\n": ("'index'", "expected a path (string), got 5"),
    "retrieval.k = 0\n": ("'retrieval.k'", "greater than or equal to 1, got 0"),
    "chunking.overlap = 300\n": ("'chunking'", "overlap must be smaller than chunking.size"),
}


@pytest.mark.parametrize("toml", list(BAD_FILES), ids=[t.strip().replace("\n", " ") for t in BAD_FILES])
@pytest.mark.parametrize("command", [["config", "show"], ["status"]])
def test_bad_config_file_is_one_line_naming_file_key_and_type(toml, command, in_tmp, capsys):
    (in_tmp / "localrag.toml").write_text(toml)
    code, _, err = _run(command, capsys)
    assert code == 2
    line = _one_error_line(err)
    key, hint = BAD_FILES[toml]
    assert str(in_tmp / "localrag.toml") in line
    assert key in line and hint in line


def test_explicit_config_flag_names_that_file(in_tmp, capsys):
    path = in_tmp / "elsewhere.toml"
    path.write_text("[retrieval]\nk = 'five'\n")
    code, _, err = _run(["--config", str(path), "config", "show"], capsys)
    assert code == 2 and str(path) in _one_error_line(err)
    code, _, err = _run(["--config", str(in_tmp / "missing.toml"), "config", "show"], capsys)
    assert code == 2 and "config file not found" in _one_error_line(err)


def test_invalid_toml_names_the_file_and_line(in_tmp, capsys):
    (in_tmp / "localrag.toml").write_text("[retrieval]\nk = \n")
    code, _, err = _run(["config", "show"], capsys)
    line = _one_error_line(err)
    assert code == 2 and str(in_tmp / "localrag.toml") in line and "line 2" in line


def test_bad_environment_value_names_the_variable(in_tmp, capsys, monkeypatch):
    monkeypatch.setenv("LOCALRAG_RETRIEVAL__K", "lots")
    code, _, err = _run(["config", "show"], capsys)
    line = _one_error_line(err)
    assert code == 2 and "env:LOCALRAG_RETRIEVAL__K" in line and "expected an integer" in line


def test_config_show_names_the_source_of_every_value(in_tmp, capsys, monkeypatch):
    (in_tmp / "localrag.toml").write_text("[retrieval]\nk = 7\ncandidates = 30\n[llm]\nbackend = 'none'\n")
    monkeypatch.setenv("LOCALRAG_RETRIEVAL__CANDIDATES", "40")  # env beats the file
    monkeypatch.setenv("LOCALRAG_MODELS", str(in_tmp / "m"))
    code, out, _ = _run(["config", "show", "--json"], capsys)
    assert code == 0
    rows = {r["key"]: (r["value"], r["source"]) for r in json.loads(out)}
    file_source = f"file:{in_tmp / 'localrag.toml'}"
    assert rows["retrieval.k"] == (7, file_source)
    assert rows["llm.backend"] == ("none", file_source)
    assert rows["retrieval.candidates"] == (40, "env:LOCALRAG_RETRIEVAL__CANDIDATES")
    assert rows["models_dir"] == (str(in_tmp / "m"), "env:LOCALRAG_MODELS")
    assert rows["chunking.size"] == (200, "default")
    assert {source.split(":")[0] for _, source in rows.values()} == {"default", "file", "env"}
    # every setting is listed, nested sections flattened
    assert {"index", "embedder.model", "llm.n_ctx", "retrieval.bm25_engine", "chunking.follow_symlinks"} <= set(rows)

    # the human table shows the same kinds of source (cells wrap at 80 columns when piped)
    code, out, _ = _run(["config", "show"], capsys)
    assert code == 0 and all(kind in out for kind in ("default", "file:", "env:LOCALRAG_"))


def test_flags_beat_env_and_file_and_say_so(in_tmp, monkeypatch):
    (in_tmp / "localrag.toml").write_text("retrieval.k = 7\n")
    settings = load_settings(overrides={"retrieval.k": 3, "llm.backend": None},
                             environ={"LOCALRAG_RETRIEVAL__K": "9"})  # fmt: skip
    rows = {k: (v, s) for k, v, s in settings.effective()}
    assert rows["retrieval.k"] == (3, "flag")
    assert rows["llm.backend"] == ("llama-cpp", "default")  # a flag left unset changes nothing


def test_flag_values_are_validated_too(in_tmp):
    with pytest.raises(ConfigError, match=r"'retrieval.k'.*got 0"):
        load_settings(overrides={"retrieval.k": 0}, environ={})


def test_search_k_flag_reaches_settings_as_flag(in_tmp, capsys):
    """`search --k 0` is a usage error: exit 2, one line, before any index is opened."""
    code, _, err = _run(["search", "x", "--k", "0", "--index", str(in_tmp / "none")], capsys)
    assert code == 2 and "'retrieval.k'" in _one_error_line(err)
