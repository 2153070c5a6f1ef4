"""The OpenVINO backend: same vectors / scores as PyTorch, int8 close to them, IR cached and rebuilt when stale."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from localrag import openvino_encoder
from localrag.config import load_settings
from localrag.embed import Embedder
from localrag.errors import ConfigError
from localrag.retrieve.rerank import Reranker

pytestmark = pytest.mark.skipif(not openvino_encoder.available(), reason="OpenVINO is a declared dependency")

TEXTS = [
    "Retrieval-augmented generation grounds answers in the user's own documents.",
    "FAISS builds an inverted-file index once the collection passes a size threshold.",
    "def parse_config(path):\n    return tomllib.loads(path.read_text())",
    "Mitochondria are the site of oxidative phosphorylation in eukaryotic cells.",
    "short",
]


@pytest.fixture(scope="module")
def minilm_copy(tmp_path_factory, models_dir):
    """A private copy of MiniLM, so IRs built here never touch the shared models folder."""
    dest = tmp_path_factory.mktemp("ov") / "all-MiniLM-L6-v2"
    shutil.copytree(models_dir / "all-MiniLM-L6-v2", dest, ignore=shutil.ignore_patterns("openvino"))
    return dest


@pytest.fixture(scope="module")
def torch_fp32(minilm_copy):
    return Embedder(minilm_copy, precision="fp32", backend="torch").encode(TEXTS)


def test_openvino_fp32_matches_torch(minilm_copy, torch_fp32):
    ov = Embedder(minilm_copy, precision="fp32", backend="openvino")
    assert (ov.dim, ov.max_seq_length) == (384, 256)
    vecs = ov.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vecs * torch_fp32, axis=1)) > 0.99999
    # one query alone (no padding) gives the same vector as inside a padded batch
    assert float(ov.encode_query(TEXTS[4]) @ vecs[4]) > 0.99999


@pytest.mark.slow
def test_openvino_int8_stays_close_and_ranks_alike(minilm_copy, torch_fp32):
    int8 = Embedder(minilm_copy, precision="int8", backend="openvino")
    vecs = int8.encode(TEXTS)
    cosines = np.sum(vecs * torch_fp32, axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985
    # the nearest text of each text is the same under both
    sim_fp32, sim_int8 = torch_fp32 @ torch_fp32.T, vecs @ vecs.T
    np.fill_diagonal(sim_fp32, -1)
    np.fill_diagonal(sim_int8, -1)
    assert (sim_fp32.argmax(axis=1) == sim_int8.argmax(axis=1)).all()
    xml = openvino_encoder.cached_ir(minilm_copy, "embedder", "int8")
    assert xml is not None and xml.parent == minilm_copy / "openvino"
    assert json.loads(xml.with_suffix(".json").read_text())["calibration"]


def test_ir_is_cached_and_rebuilt_when_the_weights_change(tiny_reranker, tmp_path):
    model = tmp_path / "ce"
    shutil.copytree(tiny_reranker, model, ignore=shutil.ignore_patterns("openvino"))
    xml = openvino_encoder.prepare(model, "cross-encoder", "fp32")
    built = xml.stat().st_mtime_ns
    assert openvino_encoder.prepare(model, "cross-encoder", "bf16") == xml  # bf16 is a runtime hint: same IR
    assert xml.stat().st_mtime_ns == built
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert openvino_encoder.cached_ir(model, "cross-encoder", "fp32") is None
    assert openvino_encoder.prepare(model, "cross-encoder", "fp32").stat().st_mtime_ns != built


def test_read_only_model_folder_uses_the_user_cache(tiny_reranker, tmp_path, monkeypatch):
    model = tmp_path / "ce"
    shutil.copytree(tiny_reranker, model, ignore=shutil.ignore_patterns("openvino"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (model / "openvino").write_text("a file where the IR folder would go")  # mkdir fails like a read-only folder
    xml = openvino_encoder.prepare(model, "cross-encoder", "fp32")
    assert xml.is_relative_to(tmp_path / "cache")
    assert openvino_encoder.cached_ir(model, "cross-encoder", "fp32") == xml


@pytest.mark.parametrize(
    "activation", [None, "torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Sigmoid"]
)
def test_openvino_reranker_scores_like_cross_encoder(tiny_reranker, tmp_path, activation):
    """Same scores, on the same scale: ms-marco models name Identity (raw logits), others default to a sigmoid."""
    model = tmp_path / "ce"
    shutil.copytree(tiny_reranker, model, ignore=shutil.ignore_patterns("openvino"))
    st_config = json.loads((model / "config_sentence_transformers.json").read_text())
    st_config.pop("activation_fn", None)  # then config.json decides, as in ms-marco-MiniLM-L-6-v2's folder
    (model / "config_sentence_transformers.json").write_text(json.dumps(st_config))
    config = json.loads((model / "config.json").read_text())
    config.pop("sentence_transformers", None)
    if activation:
        config["sentence_transformers"] = {"activation_fn": activation}
    (model / "config.json").write_text(json.dumps(config))
    query = "how is the index kept crash-safe?"
    torch_scores = Reranker(model, precision="fp32", backend="torch").score(query, TEXTS)
    ov_scores = Reranker(model, precision="fp32", backend="openvino").score(query, TEXTS)
    np.testing.assert_allclose(ov_scores, torch_scores, atol=1e-4)
    in_unit_interval = all(0 < s < 1 for s in ov_scores)
    assert in_unit_interval == (activation is None or activation.endswith("Sigmoid"))
    assert Reranker(model, backend="openvino").score(query, []) == []


def test_int8_needs_the_openvino_backend(tmp_path):
    with pytest.raises(ConfigError, match="embedder.precision"):
        load_settings(overrides={"embedder.precision": "int8", "embedder.backend": "torch"}, environ={})
    with pytest.raises(ConfigError, match="rerank_precision"):
        load_settings(overrides={"retrieval.rerank_precision": "int8", "retrieval.rerank_backend": "torch"}, environ={})
    # built directly, not through settings: the same refusal (it would otherwise run fp32 silently)
    with pytest.raises(ConfigError, match="rerank_precision"):
        Reranker(tmp_path, precision="int8", backend="torch")


def test_pooling_mode_reads_the_sentence_transformers_config(minilm_copy, tmp_path):
    assert openvino_encoder.pooling_mode(minilm_copy) == "mean"
    states = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(openvino_encoder.pool(states, mask, "mean"), [[2.0, 3.0]])
    np.testing.assert_allclose(openvino_encoder.pool(states, mask, "cls"), [[1.0, 2.0]])


def test_models_prepare_converts_the_configured_reranker(tiny_reranker, tmp_path, models_dir, monkeypatch, capsys):
    from localrag.cli import main

    model = tmp_path / "ce"
    shutil.copytree(tiny_reranker, model, ignore=shutil.ignore_patterns("openvino"))
    monkeypatch.setenv("LOCALRAG_MODELS", str(models_dir))
    monkeypatch.setenv("LOCALRAG_EMBEDDER__BACKEND", "torch")  # only the reranker is on OpenVINO
    monkeypatch.setenv("LOCALRAG_RETRIEVAL__RERANKER", str(model))
    monkeypatch.setenv("LOCALRAG_RETRIEVAL__RERANK_PRECISION", "fp32")
    assert main(["models", "prepare", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["kind"], r["precision"]) for r in rows] == [("ce", "cross-encoder", "fp32")]
    assert (model / "openvino" / "cross-encoder-fp32.xml").is_file()


def test_conversion_prints_no_transformers_loss_warning(tiny_reranker, tmp_path):
    """The converter reads `loss_function` of the model; transformers then warns about `loss_type=None`,
    which `models fetch` / `make demo` used to print. A fresh interpreter: the warning is logged once per process."""
    import subprocess
    import sys
    from pathlib import Path

    model = tmp_path / "ce"
    shutil.copytree(tiny_reranker, model, ignore=shutil.ignore_patterns("openvino"))
    code = f"from localrag.openvino_encoder import prepare; print(prepare(__import__('pathlib').Path({str(model)!r}), 'cross-encoder', 'fp32'))"
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith(".xml")
    assert "loss_type" not in proc.stderr, proc.stderr[-2000:]


PAIR_QUERIES = ["how is the index kept crash-safe?", "what does FAISS build " * 40]


def test_tokenizer_json_encodes_as_transformers_does(minilm_copy, tiny_reranker):
    """The OpenVINO path tokenizes with `tokenizers` alone (transformers would import torch): ids, mask
    and token types equal transformers' fast tokenizer's, for batches, pairs and truncation."""
    from transformers import AutoTokenizer

    from localrag.encoders.tokenizer import FastTokenizer

    long_text = " ".join(TEXTS) * 20  # past every max_length below
    texts = [*TEXTS, long_text, "Ünïcode ﬁ ligatures, CJK 検索 and emoji 🙂", ""]
    for folder in (minilm_copy, tiny_reranker):
        ours, theirs = FastTokenizer(folder), AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        assert ours.model_max_length == theirs.model_max_length
        for max_length in (16, 128, 256):
            got = ours(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
            want = theirs(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
            assert got.keys() == set(want.keys())
            for key in got:
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"{folder.name} {key} {max_length}")
            for strategy, n_queries in (
                ("longest_first", 2),
                ("only_second", 1),
            ):  # a long query can't keep only_second
                queries = [PAIR_QUERIES[i % n_queries] for i in range(len(texts) - 1)]
                got = ours(queries, texts[:-1], truncation=strategy, max_length=max_length)
                want = theirs(queries, texts[:-1], padding=True, truncation=strategy, max_length=max_length, return_tensors="np")  # fmt: skip
                for key in got:
                    np.testing.assert_array_equal(got[key], want[key], err_msg=f"{folder.name} {strategy} {key}")
        # untruncated counting (the chunker's) is not capped at tokenizer.json's own 128
        assert ours([long_text], truncation=False)["input_ids"].shape[1] > 512


def test_a_query_on_the_openvino_path_imports_neither_torch_nor_transformers(models_dir):
    """Loading the default embedder and embedding a question (every `ask` does) must not import torch or
    transformers: together they were 1.6 s of a 4 s process start. Only where torch might see a GPU
    does the device check import it."""
    import subprocess
    import sys
    from pathlib import Path

    from localrag import hardware

    if not hardware.torch_cannot_see_a_gpu():
        pytest.skip("torch may see a GPU here: the device check imports it")
    code = (
        "import sys; from localrag.config import load_settings; from localrag.encoders import load_embedder;"
        "e = load_embedder(load_settings()); v = e.encode_query('where is the index kept?');"
        "print(v.shape[0], 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "LOCALRAG_MODELS": str(models_dir)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["384", "False", "False"]
