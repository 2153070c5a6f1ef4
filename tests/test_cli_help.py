"""`--help` of every command: boolean options read as plain flags (no `<bool>` value to give)."""

from __future__ import annotations

import typer

from localrag import cli


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def _help(args, capsys) -> str:
    assert cli.main([*args, "--help"]) == 0
    return capsys.readouterr().out


def test_no_command_shows_a_value_for_a_flag(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    root = typer.main.get_command(cli.app)
    seen_flags = 0
    for path, cmd in _commands(root):
        text = _help(list(path), capsys)
        assert "<bool>" not in text, f"localrag {' '.join(path)} --help:\n{text}"
        for param in cmd.params:
            if getattr(param, "is_flag", False):
                seen_flags += 1
                assert param.opts[0] in text
    assert seen_flags >= 10  # --json on most commands, --rebuild, --explain, --no-rerank, ...


def test_typed_options_keep_their_type(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    text = _help(["search"], capsys)
    assert "<int>" in text  # --k still says what it takes
    row = next(ln for ln in text.splitlines() if "--json" in ln)
    assert "print machine-readable JSON" in row and "<bool>" not in row


def test_json_flag_takes_no_value(capsys):
    # a plain flag: "true" after it is an extra argument, which the help no longer suggests
    assert cli.main(["models", "list", "--json", "true"]) == 2
