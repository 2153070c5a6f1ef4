"""Where models are found and installed (the configured folder, ./models, a checkout's models/, the
per-user folder), and `models fetch` of a Hugging Face model against a local server in the same URL layout."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from localrag import models as m
from localrag.models import locations
from localrag.config import load_settings
from localrag.errors import ModelMissingError

REVISION = "0123456789abcdef0123456789abcdef01234567"
REPO_ID = "someone/tiny-ce"


@pytest.fixture
def user_dir(tmp_path, monkeypatch) -> Path:
    """A private per-user data folder; no checkout models/ and an empty working directory."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(locations, "_CHECKOUT", tmp_path / "not-a-checkout")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "xdg" / "localrag" / "models"


def default_settings(**overrides):
    return load_settings(overrides=overrides, environ={})


def test_unconfigured_lookups_fall_back_to_the_user_folder(user_dir, models_dir):
    s = default_settings()
    assert m.models_dir(s) == user_dir and m.model_dirs(s) == [user_dir]
    with pytest.raises(ModelMissingError, match=str(user_dir)):
        m.resolve_model_path(s, "embedder")
    user_dir.mkdir(parents=True)
    (user_dir / "all-MiniLM-L6-v2").symlink_to(models_dir / "all-MiniLM-L6-v2")
    assert m.resolve_model_path(s, "embedder") == user_dir / "all-MiniLM-L6-v2"


def test_precedence_configured_then_cwd_then_checkout_then_user(user_dir, tmp_path, monkeypatch, models_dir):
    checkout = tmp_path / "checkout"
    (checkout / "models").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.setattr(locations, "_CHECKOUT", checkout)
    Path("models").mkdir()
    s = default_settings()
    assert m.model_dirs(s) == [Path("models"), checkout / "models", user_dir]
    user_dir.mkdir(parents=True)
    (user_dir / "all-MiniLM-L6-v2").symlink_to(models_dir / "all-MiniLM-L6-v2")
    (checkout / "models" / "all-MiniLM-L6-v2").symlink_to(models_dir / "all-MiniLM-L6-v2")
    assert m.resolve_model_path(s, "embedder") == checkout / "models" / "all-MiniLM-L6-v2"  # first that has it
    # LOCALRAG_MODELS (or models_dir in localrag.toml) is the only folder then
    env = load_settings(environ={"LOCALRAG_MODELS": str(tmp_path / "mine")})
    assert m.model_dirs(env) == [tmp_path / "mine"] and m.models_dir(env) == tmp_path / "mine"
    with pytest.raises(ModelMissingError):
        m.resolve_model_path(env, "embedder")


# ------------------------------------------------------------------ Hugging Face layout, served locally


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hub(tmp_path, tiny_reranker):
    """A local server laid out like huggingface.co: /REPO/resolve/REVISION/FILE."""
    root = tmp_path / "hub"
    dest = root / REPO_ID / "resolve" / REVISION
    shutil.copytree(tiny_reranker, dest, ignore=shutil.ignore_patterns("openvino"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", dest
    finally:
        server.shutdown()
        server.server_close()


def _registry(folder: Path, files: list[Path] | None, names: list[str]) -> str:
    body = f"""
[[model]]
name = "tiny-ce"
role = "reranker"
license = "MIT"
upstream = "{REPO_ID}"
path = "tiny-ce"

[model.source]
type = "huggingface"
repo = "{REPO_ID}"
revision = "{REVISION}"
files = {names!r}
""".replace("'", '"')
    for f in files or []:
        data = f.read_bytes()
        rel = f.relative_to(folder).as_posix()
        body += (
            f'\n[[model.files]]\npath = "{rel}"\nsize = {len(data)}\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        )
    return body


def _served_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_fetch_reranker_pinned_into_the_user_folder(user_dir, hub):
    base, served = hub
    files = _served_files(served)
    user_dir.mkdir(parents=True)
    (user_dir / "registry.toml").write_text(_registry(served, files, []), encoding="utf-8")
    s = default_settings(**{"models_url": base, "retrieval.reranker": "tiny-ce"})
    [row] = m.fetch(s, ["reranker"])  # a role: the reranker settings select
    assert row["status"] == "fetched" and row["pinned"] is True and row["path"] == str(user_dir / "tiny-ce")
    for f in files:
        assert (user_dir / "tiny-ce" / f.relative_to(served)).read_bytes() == f.read_bytes()
    assert m.resolve_model_path(s, "reranker") == user_dir / "tiny-ce"
    assert [r.status for r in m.verify(s, "tiny-ce")] == ["ok"]
    assert m.fetch(s, ["tiny-ce"])[0]["status"] == "present"
    from sentence_transformers import CrossEncoder

    scores = CrossEncoder(str(user_dir / "tiny-ce"), device="cpu", local_files_only=True).predict([("q", "a passage")])
    assert len(scores) == 1  # what came down is a loadable cross-encoder


def test_fetch_rejects_bytes_that_do_not_match_the_pin(user_dir, hub):
    base, served = hub
    files = _served_files(served)
    user_dir.mkdir(parents=True)
    (user_dir / "registry.toml").write_text(_registry(served, files, []), encoding="utf-8")
    config = served / "config.json"
    config.write_bytes(config.read_bytes().replace(b"{", b"{ ", 1))  # same role, other bytes (and size)
    s = default_settings(**{"models_url": base})
    with pytest.raises(m.ModelFetchError, match="config.json"):
        m.fetch(s, ["tiny-ce"])
    assert not (user_dir / "tiny-ce").exists()
    assert not list(user_dir.glob(".tiny-ce.part*"))


def test_fetch_unpinned_records_what_it_downloaded(user_dir, hub):
    base, served = hub
    names = [p.relative_to(served).as_posix() for p in _served_files(served)]
    user_dir.mkdir(parents=True)
    (user_dir / "registry.toml").write_text(_registry(served, None, names), encoding="utf-8")
    s = default_settings(**{"models_url": base})
    [row] = m.fetch(s, ["tiny-ce"])
    assert row["status"] == "fetched" and row["pinned"] is False
    local = (user_dir / "local.toml").read_text(encoding="utf-8")
    assert 'name = "tiny-ce"' in local and "sha256" in local
    assert [r.status for r in m.verify(s, "tiny-ce")] == ["ok"]
    (user_dir / "tiny-ce" / "config.json").write_text("{}")  # a later change is caught
    assert [r.status for r in m.verify(s, "tiny-ce")] == ["mismatch"]


def test_offline_fetch_says_how_to_copy_the_model_in(user_dir):
    s = default_settings(**{"models_url": "http://127.0.0.1:9"})  # discard port: nothing listens
    with pytest.raises(m.ModelFetchError) as e:
        m.fetch(s, ["reranker"])
    msg = str(e.value)
    assert "127.0.0.1:9/cross-encoder/ms-marco-MiniLM-L-6-v2/resolve/" in msg
    assert "offline" in msg and "localrag models add reranker PATH" in msg
    assert not (user_dir / "ms-marco-MiniLM-L-6-v2").exists()
