"""The OpenVINO backend for the BERT-family encoders: the MiniLM embedder and cross-encoder.

A model folder (sentence-transformers / transformers layout, PyTorch weights) is converted once
to OpenVINO IR; for int8 it is also quantized with NNCF (SmoothQuant + int8 matmuls), with
activation ranges measured on localrag/data/calibration.jsonl (generic manual prose,
docstrings and code; no evaluation data). The IR is cached beside the model in
`<model>/openvino/`, or in the user cache where that folder is read-only, and rebuilt when the
weights or the OpenVINO/NNCF versions change. `localrag models fetch` prepares the defaults so
the first index does not pay for it (conversion ~5 s, int8 calibration ~30 s on 2 cores).

fp32 and bf16 share one IR: bf16 is OpenVINO's inference-precision hint, used where the CPU
runs it natively (OpenVINO keeps normalisations and softmax in fp32, which is why its bf16
vectors stay closer to fp32 than PyTorch's bf16 weights do).

OpenVINO and NNCF send usage telemetry when imported unless told not to; `offline.py` blocks it
before either is imported, and tests/e2e/test_offline.py watches the syscalls.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from localrag.encoders.tokenizer import load_tokenizer
from localrag.errors import ModelMissingError
from localrag.offline import block_native_telemetry

log = logging.getLogger("localrag")

KINDS = ("embedder", "cross-encoder")
PRECISIONS = ("fp32", "bf16", "int8")
CALIBRATION_BATCH = 8
CALIBRATION_MAX_TOKENS = 256
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def available() -> bool:
    """Is OpenVINO importable here? (NNCF is checked only when an int8 model must be built.)"""
    try:
        metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return False
    return True


@functools.cache
def _versions() -> dict[str, str]:
    out = {}
    for package in ("openvino", "nncf"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "missing"
    return out


def _weights(model_dir: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise ModelMissingError(f"no PyTorch weights ({' or '.join(_WEIGHT_FILES)}) in {model_dir}")


def _ir_precision(precision: str) -> str:
    """The IR a precision runs on: int8 has its own, fp32 and bf16 share the fp32 one."""
    return "int8" if precision == "int8" else "fp32"


def _fingerprint(model_dir: Path, kind: str, precision: str) -> dict:
    weights = _weights(model_dir)
    stat = weights.stat()
    calibration = _calibration_digest() if precision == "int8" else None
    return {
        "kind": kind,
        "precision": _ir_precision(precision),
        "weights": weights.name,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "calibration": calibration,
        "versions": _versions(),
    }


def _cache_dirs(model_dir: Path) -> list[Path]:
    from platformdirs import user_cache_dir

    key = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:16]
    return [model_dir / "openvino", Path(user_cache_dir("localrag")) / "openvino" / f"{model_dir.name}-{key}"]


def _ir_name(kind: str, precision: str) -> str:
    return f"{kind}-{_ir_precision(precision)}.xml"


def cached_ir(model_dir: Path, kind: str, precision: str) -> Path | None:
    """The prepared IR for this model, kind and precision, if one is cached and current."""
    want = _fingerprint(model_dir, kind, precision)
    for folder in _cache_dirs(model_dir):
        xml = folder / _ir_name(kind, precision)
        sidecar = xml.with_suffix(".json")
        try:
            if xml.is_file() and xml.with_suffix(".bin").is_file() and json.loads(sidecar.read_text()) == want:
                return xml
        except (OSError, ValueError):
            continue
    return None


def prepare(model_dir: Path, kind: str, precision: str) -> Path:
    """Convert (and for int8 quantize) the model unless a current IR is cached; returns the .xml."""
    if kind not in KINDS or precision not in PRECISIONS:
        raise ValueError(f"kind {kind!r} / precision {precision!r}")
    model_dir = Path(model_dir)
    found = cached_ir(model_dir, kind, precision)
    if found is not None:
        return found
    block_native_telemetry()
    import openvino as ov

    t0 = time.perf_counter()
    model = _convert(model_dir, kind)
    if precision == "int8":
        model = _quantize(model, model_dir, kind)
    errors = []
    for folder in _cache_dirs(model_dir):
        xml = folder / _ir_name(kind, precision)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = xml.with_name(f".{xml.stem}-{os.getpid()}.xml")
            ov.save_model(model, str(tmp), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(tmp, xml)
            xml.with_suffix(".json").write_text(json.dumps(_fingerprint(model_dir, kind, precision)))
        except OSError as e:
            errors.append(f"{folder}: {e}")
            continue
        log.info("prepared %s %s for OpenVINO (%s) in %.1fs", model_dir.name, kind, precision, time.perf_counter() - t0)
        return xml
    raise OSError("cannot write the OpenVINO model anywhere: " + "; ".join(errors))


def _convert(model_dir: Path, kind: str):
    import openvino as ov
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    if kind == "embedder":
        hf = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    else:
        hf = AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True)
    hf.eval()

    example = dict(tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt"))
    with_types = "token_type_ids" in example

    class Outputs(torch.nn.Module):
        """Named positional inputs (tracing needs them) and one tensor out: token states or logits."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if with_types else {}
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return out.last_hidden_state if kind == "embedder" else out.logits

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    # The converter reads every attribute of the module, `loss_function` included, whose getter logs
    # "`loss_type=None` was set in the config but it is unrecognized" for encoders (nothing is
    # trained here, no loss is used): quiet transformers for the conversion only.
    verbosity = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # tracer and deprecation chatter from torch.jit, nothing the user can act on
            return ov.convert_model(Outputs(hf), example_input=tuple(example[n] for n in names))
    finally:
        transformers.utils.logging.set_verbosity(verbosity)


def calibration_texts() -> list[str]:
    path = resources.files("localrag") / "data" / "calibration.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@functools.cache
def _calibration_digest() -> str:
    return hashlib.sha256("\n".join(calibration_texts()).encode()).hexdigest()[:16]


def _calibration_batches(model_dir: Path, kind: str, input_names: list[str]) -> Iterator[dict[str, np.ndarray]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    texts = calibration_texts()
    for start in range(0, len(texts), CALIBRATION_BATCH):
        batch = texts[start : start + CALIBRATION_BATCH]
        if kind == "embedder":
            encoded = tokenizer(
                batch, padding=True, truncation=True, max_length=CALIBRATION_MAX_TOKENS, return_tensors="np"
            )
        else:
            # query = the first sentence of a neighbouring text: related and unrelated pairs both occur
            queries = [texts[(start + i + 1) % len(texts)].split(". ")[0][:200] for i in range(len(batch))]
            encoded = tokenizer(
                queries,
                batch,
                padding=True,
                truncation="only_second",
                max_length=CALIBRATION_MAX_TOKENS,
                return_tensors="np",
            )
        yield {name: encoded[name].astype(np.int64) for name in input_names}


def _quantize(model, model_dir: Path, kind: str):
    block_native_telemetry()
    try:
        import nncf
    except ImportError as e:
        raise ModelMissingError(
            "int8 needs NNCF to quantize the model once: pip install nncf (or use precision = 'bf16')"
        ) from e
    names = [i.get_any_name() for i in model.inputs]
    data = list(_calibration_batches(model_dir, kind, names))
    nncf.set_log_level(logging.ERROR)
    # NNCF draws its progress bars on stdout, where `--json` output goes: send them to stderr
    with contextlib.redirect_stdout(sys.stderr):
        return nncf.quantize(
            model,
            nncf.Dataset(data),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(data),
            fast_bias_correction=True,
        )


def load(model_dir: Path, kind: str, precision: str, threads: int | None, setting: str) -> "OpenVINOEncoder":
    """The compiled encoder for a model folder (prepared first if needed) on `threads` threads
    (default: physical cores). `setting` names the option that chose OpenVINO, for the error
    when it is not installed."""
    from localrag.cpu import physical_cores

    if not available():
        raise ModelMissingError(
            f"{setting} = 'openvino' needs OpenVINO: pip install 'openvino>=2025.1' nncf (or set {setting} = 'torch')"
        )
    xml = prepare(model_dir, kind, precision)
    return OpenVINOEncoder(xml, precision, threads or physical_cores())


class OpenVINOEncoder:
    """A compiled encoder with one single-threaded stream per thread (`threads` in all).

    `run_many(batches)` keeps every stream busy, so a list of batches runs in parallel (throughput);
    `run(batch)` runs one batch on one stream (a query). On 2 cores, two 1-thread streams beat one
    2-thread stream: MiniLM's matrices are too small to split well (measured in one run: 512
    passages 1.6x faster, a 20-pair rerank split in two 1.4x faster). `run_many` calls are
    serialized; `run` calls from different threads (a server's concurrent queries) each take an
    idle inference request of their own, so as many run at once as there are streams.
    """

    def __init__(self, xml: Path, precision: str, threads: int):
        block_native_telemetry()
        import openvino as ov

        core = ov.Core()
        native_bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        hint = "bf16" if precision in ("bf16", "int8") and native_bf16 else "f32"
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": threads,
            "INFERENCE_NUM_THREADS": threads,
        }
        compiled_cache = xml.parent / "compiled"
        if os.access(xml.parent, os.W_OK):
            # OpenVINO keeps the compiled model here and reuses it while the IR, the settings and its
            # own version match: compiling MiniLM took 0.57 s of every process start, loading it 0.16 s
            core.set_property({"CACHE_DIR": str(compiled_cache)})
        self.compiled = core.compile_model(str(xml), "CPU", config)
        self.streams = int(self.compiled.get_property("NUM_STREAMS"))
        self.input_names = [i.get_any_name() for i in self.compiled.inputs]
        self._idle: queue.SimpleQueue = queue.SimpleQueue()  # inference requests for `run`, one per stream
        for _ in range(self.streams):
            self._idle.put(self.compiled.create_infer_request())
        self.queue = ov.AsyncInferQueue(self.compiled, self.streams)
        self.inference_precision = hint
        self._lock = threading.Lock()

    def _feed(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: inputs[name].astype(np.int64, copy=False) for name in self.input_names}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        # Tensors set one by one, then infer() without inputs: infer(dict)'s input dispatch in
        # Python held the GIL about twice as long per query (0.52 vs 0.31 ms of the calling
        # thread's CPU, SciFact queries); the outputs are bit-identical.
        import openvino as ov  # imported by __init__ (telemetry blocked first): a dict lookup here

        request = self._idle.get()  # waits while every stream is busy
        try:
            for i, array in enumerate(self._feed(inputs).values()):
                request.set_input_tensor(i, ov.Tensor(array))  # a copy: nothing borrowed stays behind
            request.infer()
            return request.get_output_tensor(0).data.copy()
        finally:
            self._idle.put(request)

    def run_many(self, batches: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """Outputs of each batch, in order."""
        if len(batches) == 1:
            return [self.run(batches[0])]
        results: list[np.ndarray | None] = [None] * len(batches)

        def done(request, i: int) -> None:
            results[i] = request.get_output_tensor(0).data.copy()

        with self._lock:
            self.queue.set_callback(done)
            for i, inputs in enumerate(batches):
                self.queue.start_async(self._feed(inputs), userdata=i)
            self.queue.wait_all()
        return results  # type: ignore[return-value]

    def batch_size_for(self, n: int, cap: int) -> int:
        """Items per batch so that n items fill every stream, at most `cap`."""
        return max(1, min(cap, -(-n // self.streams)))


def pooling_mode(model_dir: Path) -> str:
    """The sentence-transformers pooling of an embedder folder: "mean" or "cls" (else ValueError)."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return "mean"
    for module in json.loads(modules_file.read_text()):
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((model_dir / module["path"] / "config.json").read_text())
            if config.get("pooling_mode_mean_tokens"):
                return "mean"
            if config.get("pooling_mode_cls_token"):
                return "cls"
            raise ValueError(f"{model_dir}: pooling {config} is not supported by the OpenVINO backend")
    return "mean"


def pool(states: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return states[:, 0].astype(np.float32)
    mask: np.ndarray = attention_mask[..., None].astype(np.float32)
    return (states * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)


def _max_seq_length(model_dir: Path, tokenizer) -> int:
    """sentence-transformers' max_seq_length (sentence_bert_config.json), else the tokenizer's limit."""
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return int(min(tokenizer.model_max_length, 512))


def _uses_sigmoid(model_dir: Path) -> bool:
    """CrossEncoder's activation for this model, looked up where CrossEncoder looks: the folder's
    config_sentence_transformers.json, then config.json (ms-marco models name Identity there: raw
    logits), else a sigmoid for one-label models. Read as JSON: transformers' AutoConfig would
    import torch."""
    st_config = model_dir / "config_sentence_transformers.json"
    name = json.loads(st_config.read_text()).get("activation_fn") if st_config.is_file() else None
    config_file = model_dir / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    if not name:
        name = (config.get("sentence_transformers") or {}).get("activation_fn") or config.get(
            "sbert_ce_default_activation_function"
        )
    if name:
        return name.rsplit(".", 1)[-1] == "Sigmoid"
    # transformers' PretrainedConfig: num_labels is len(id2label) when given, else num_labels, else 2
    labels = config.get("id2label")
    return (len(labels) if labels else config.get("num_labels", 2)) == 1


class OpenVINOEmbedding:
    """The embedder's weights converted to OpenVINO, tokenized by the model's own tokenizer, pooled as
    its sentence-transformers config says."""

    def __init__(self, model_dir: Path, precision: str, batch_size: int, threads: int | None, setting: str):
        self.batch_size = batch_size
        self.encoder = load(model_dir, "embedder", precision, threads, setting)
        self.precision = precision
        self.pooling = pooling_mode(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.max_seq_length = _max_seq_length(model_dir, self.tokenizer)
        self.dim = int(self.forward(["dimension probe"]).shape[1])

    def forward(self, texts: list[str]) -> np.ndarray:
        size = self.encoder.batch_size_for(len(texts), self.batch_size)
        batches = [
            self.tokenizer(
                texts[start : start + size],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            for start in range(0, len(texts), size)
        ]
        states = self.encoder.run_many(batches)
        return np.concatenate([pool(h, b["attention_mask"], self.pooling) for h, b in zip(states, batches)]).astype(
            np.float32, copy=False
        )


class OpenVINOCrossEncoder:
    """The cross-encoder's weights converted to OpenVINO. Scores go through the activation
    CrossEncoder.predict would apply (`_uses_sigmoid`), so they are on the torch backend's scale."""

    def __init__(
        self, model_dir: Path, precision: str, batch_size: int, max_length: int, threads: int | None, setting: str
    ):
        self.batch_size = batch_size
        self.max_length = max_length
        self.encoder = load(model_dir, "cross-encoder", precision, threads, setting)
        self.tokenizer = load_tokenizer(model_dir)
        self.sigmoid = _uses_sigmoid(model_dir)
        self.precision = precision

    def score(self, query: str, texts: list[str]) -> list[float]:
        size = self.encoder.batch_size_for(len(texts), self.batch_size)
        batches = [
            self.tokenizer(
                [query] * len(texts[start : start + size]),
                texts[start : start + size],
                padding=True,
                truncation="longest_first",
                max_length=self.max_length,
                return_tensors="np",
            )  # fmt: skip
            for start in range(0, len(texts), size)
        ]
        logits = np.concatenate(self.encoder.run_many(batches)).astype(np.float64)
        scores = logits[:, 0] if logits.shape[1] == 1 else logits.max(axis=1)
        if self.sigmoid:
            scores = 1.0 / (1.0 + np.exp(-scores))
        return [float(s) for s in scores]
