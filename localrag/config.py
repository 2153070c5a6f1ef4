"""One typed Settings object, built from defaults <- localrag.toml <- environment <- flags.

Every value remembers where it came from (`Settings.sources`), for `localrag config show`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from localrag.errors import ConfigError

CONFIG_FILE = "localrag.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ChunkingSettings(_Section):
    # 200/32 measured best on SciFact (localrag eval beir, MiniLM bf16, no rerank; nDCG@10 hybrid / dense):
    # 128/16 0.710 / 0.669, 200/32 0.720 / 0.672, 256/32 0.710 / 0.655. Longer chunks blur MiniLM
    # (trained on 128-token inputs); shorter ones split passages and give 1.6x the chunks.
    size: int = Field(200, ge=16, le=2048, description="target chunk size in embedder tokens")
    overlap: int = Field(32, ge=0, le=512, description="overlap between consecutive chunks, tokens")
    max_file_mb: float = Field(50.0, gt=0, description="files larger than this are skipped")
    max_data_chars: int = Field(200_000, ge=1000, description="cap on text taken from CSV/JSON/YAML")
    follow_symlinks: bool = False

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "ChunkingSettings":
        if self.overlap >= self.size:
            raise ValueError("chunking.overlap must be smaller than chunking.size")
        return self


class IngestSettings(_Section):
    ocr: Literal["auto", "off"] = Field(
        "auto", description="read scanned PDF pages and images with the OCR engine bundled in the rapidocr wheel"
    )
    ocr_max_pages: int = Field(200, ge=1, le=100_000, description="pages OCRed per file at most; the rest are noted")
    notebook_outputs: bool = Field(False, description="index the text outputs of Jupyter notebook cells")
    max_unpacked_mb: float = Field(
        300.0, gt=0, description="office files and e-books (zip inside) unpacking to more than this are skipped"
    )


class EmbedderSettings(_Section):
    model: str = "all-MiniLM-L6-v2"
    # 64 (OpenVINO int8, two 1-thread streams, 2-core Zen 4; bench_ingest on 1,000 SciFact abstracts,
    # quiet): 82.6-84.0 chunks/s end to end vs 76.7-79.1 at 128 and 80.0 at 32: smaller batches keep
    # both streams busy. (torch bf16 preferred 128: 46 chunks per 2 CPU-s vs 41 at 64.)
    batch_size: int = Field(64, ge=1, le=1024)
    # Measured on SciFact (localrag eval beir, 12,620 chunks; nDCG@10 dense / hybrid):
    #   torch fp32 0.6717 / -, torch bf16 weights 0.6718 / 0.7200,
    #   openvino int8 (NNCF, calibrated on localrag/data/calibration.jsonl) 0.6732 / 0.7202,
    # at ~3.9x torch fp32's embedding speed (2-core Zen 4; torch bf16 ~2.2x, openvino bf16 ~2.7x).
    # backend "torch" is sentence-transformers itself; "openvino" converts the same weights once
    # (localrag/encoders/openvino.py). bf16 is used only where the CPU runs it natively.
    precision: Literal["fp32", "bf16", "int8"] = "int8"
    backend: Literal["torch", "openvino"] = "openvino"
    threads: int | None = Field(None, ge=1, description="OpenVINO inference threads (default: physical cores)")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto",
        description="where the embedder runs: auto = a CUDA or MPS GPU when torch sees one (with the torch backend), "
        "else the CPU (OpenVINO int8)",
    )

    @model_validator(mode="after")
    def _int8_needs_openvino(self) -> "EmbedderSettings":
        if self.backend == "torch" and "precision" not in self.model_fields_set:
            self.precision = "bf16"  # the default precision is the OpenVINO backend's
        if self.precision == "int8" and self.backend != "openvino":
            raise ValueError("embedder.precision 'int8' needs embedder.backend = 'openvino'")
        return self


class RetrievalSettings(_Section):
    k: int = Field(5, ge=1, le=100, description="sources given to the LLM / hits shown")
    candidates: int = Field(50, ge=1, le=2000, description="top-N from each retriever before fusion")
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    rerank: bool = True
    rerank_top: int = Field(20, ge=1, le=500)
    reranker: str = "ms-marco-MiniLM-L-6-v2"
    # top-20 latency, MiniLM-L6-shape cross-encoder, ~200-token chunks (scripts/bench_rerank.py):
    # openvino int8 at 256 tokens is ~5x torch fp32 at 512. Chunks are <= 200 tokens (chunking.size),
    # so 256 holds query + chunk; "bf16" keeps the weights exact at ~3x.
    rerank_backend: Literal["torch", "openvino"] = "openvino"
    rerank_precision: Literal["fp32", "bf16", "int8"] = "int8"
    rerank_max_length: int = Field(256, ge=32, le=512, description="tokens per (query, passage) pair")
    reranker_device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="where the cross-encoder runs; as embedder.device"
    )

    @model_validator(mode="after")
    def _int8_needs_openvino(self) -> "RetrievalSettings":
        if self.rerank_backend == "torch" and "rerank_precision" not in self.model_fields_set:
            self.rerank_precision = "bf16"
        if self.rerank_precision == "int8" and self.rerank_backend != "openvino":
            raise ValueError("retrieval.rerank_precision 'int8' needs retrieval.rerank_backend = 'openvino'")
        return self

    bm25_engine: Literal["bm25s", "rank-bm25"] = "bm25s"
    ivf_threshold: int = Field(200_000, ge=1000, description="chunks above which FAISS uses IVF")
    min_score: float = Field(
        0.0, description="abstain when the best hit's final score (rerank, else RRF) is below this"
    )
    # Chosen on the answer benchmark's dev half (docs/benchmarks.md): near-miss questions are on
    # the folder's topic (their best hit reaches 0.38-0.7), so this gate only stops questions about
    # nothing in the folder; 0.25-0.30 already cut off answerable questions asked in other words.
    min_dense: float = Field(
        0.20, ge=-1.0, le=1.0, description="abstain when no hit's dense cosine similarity to the question reaches this"
    )


class LLMSettings(_Section):
    backend: Literal["llama-cpp", "openai", "none"] = "llama-cpp"
    model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    n_ctx: int = Field(4096, ge=512, le=131072)
    max_tokens: int = Field(
        192, ge=16, le=8192, description="answer length cap, tokens (answers are one to three sentences)"
    )
    # Prompt processing dominates time to first token on a CPU (~110 tokens/s for the 1.5B default on
    # 2 cores): past this many prompt tokens the lower-ranked sources are cut to their best sentences,
    # then dropped; the top one stays whole. 0 = use the whole context window.
    max_prompt_tokens: int = Field(700, ge=0, le=131072)
    # The model's own "not found", read before it writes a word: the probability its reply starts
    # with the not-found sentence (first token, llama.cpp and OpenAI-compatible backends). Above
    # this, the answer abstains without generating. Off (1) by default: on the answer benchmark's
    # dev half it refused answers a source stated verbatim (docs/benchmarks.md); the model's reply
    # and the attribution of its facts decide instead.
    max_not_found: float = Field(
        1.0,
        ge=0,
        le=1,
        description="abstain before generating when the model's probability of opening with the not-found reply exceeds this",
    )
    cite_inline: bool = Field(
        False,
        description="ask the model to write [n] citations itself (kept only where the attribution confirms them)",
    )
    question_first: bool = Field(False, description="put the question before the sources too, not only after them")
    verdict_first: bool = Field(
        False,
        description="yes/no questions: the verdict is the likelier of Yes and No as the reply's first word, and the "
        "model goes on from '<verdict>. The source says' (backends that can continue a reply: llama.cpp)",
    )
    temperature: float = Field(0.1, ge=0, le=2)
    n_threads: int | None = Field(None, ge=1, description="default: physical cores")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    api_model: str | None = Field(None, description="model name sent to the OpenAI-compatible server")
    probe: bool = Field(True, description="check the model in a subprocess before loading it in-process")
    n_gpu_layers: Literal["auto"] | int = Field(
        "auto",
        description="layers llama.cpp offloads to the GPU: auto = all when the installed llama.cpp has a GPU "
        "backend, else 0; a number (-1 is not accepted: use auto)",
    )
    main_gpu: int = Field(0, ge=0, le=255, description="the GPU that holds the model when there are several")
    flash_attn: Literal["auto", "on", "off"] = Field(
        "auto", description="flash attention: auto = llama.cpp decides when layers are offloaded, off on the CPU"
    )

    @field_validator("n_gpu_layers", mode="before")
    @classmethod
    def _gpu_layers(cls, value: Any) -> Any:
        """'auto' or a non-negative integer (environment values arrive as strings)."""
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not (value == "auto" or (isinstance(value, int) and value >= 0)):
            raise ValueError("expected 'auto' or a non-negative integer")
        return value


class AnswerSettings(_Section):
    """How an answer is attributed to its sources and when it abstains (localrag/generate/
    attribution.py, localrag/chat.py). Chosen on the answer benchmark's dev half."""

    min_coverage: float = Field(
        0.6, ge=0, le=1, description="share of a sentence's key terms a passage must hold to support it"
    )
    min_similarity: float = Field(
        0.7,
        ge=-1,
        le=2,
        description="or: embedder cosine between the sentence and the passage's closest sentences (above 1: not used)",
    )
    min_subject: float = Field(
        0.2,
        ge=-1,
        le=1,
        description="abstain when no passage that supports the answer has this dense similarity to the question",
    )
    abstain_unsupported: bool = Field(
        True, description="abstain when no sentence of the answer is supported by a source"
    )
    abstain_unmentioned: bool = Field(
        True,
        description="abstain without generating when a name the question asks about (a product, platform, "
        "identifier or option) appears in none of the retrieved passages",
    )


class ServeSettings(_Section):
    """`localrag serve` and `localrag mcp` (localrag/serve/). A host other than loopback needs a token."""

    host: str = Field("127.0.0.1", min_length=1, description="address to bind; anything but loopback needs a token")
    port: int = Field(8642, ge=1, le=65535)
    # SecretStr: `config show` and error messages print it masked
    token: SecretStr | None = Field(None, description="bearer token clients must send (prefer token_file)")
    token_file: Path | None = Field(None, description="file holding the bearer token (first line)")
    max_queue: int = Field(4, ge=0, le=1000, description="answers that may wait while the LLM writes one; more get 503")
    max_concurrent_searches: int = Field(
        0, ge=0, le=256, description="searches computed at once (0: two per physical core); more wait"
    )
    max_waiting_searches: int = Field(
        64, ge=0, le=10_000, description="searches that may wait for a free slot; more get 503"
    )
    query_batch: int = Field(
        0,
        ge=0,
        le=64,
        description="embed up to this many concurrent search queries in one encoder call (0, 1: each alone)",
    )
    query_batch_wait_ms: float = Field(
        0.0, ge=0, le=50, description="how long a query batch not yet full waits for more (0: takes what is waiting)"
    )
    # Off by default: with a token every holder of it is one client, and behind a reverse proxy
    # every client has the proxy's address, so a default limit would throttle whole teams; the
    # search and answer queues above already keep the server itself from being overrun.
    rate_limit_per_minute: int = Field(
        0, ge=0, le=1_000_000, description="requests a client may make per minute (0: no limit); more get 429"
    )
    rate_limit_burst: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="requests a client may make at once before the rate applies (0: rate_limit_per_minute)",
    )
    max_k: int = Field(50, ge=1, le=100, description="largest k a request may ask for")
    max_body_bytes: int = Field(65_536, ge=1024, le=16 * 1024 * 1024, description="largest request body")
    max_question_chars: int = Field(4000, ge=16, le=100_000, description="longest query or question")
    max_messages: int = Field(64, ge=1, le=10_000, description="most chat messages in one completion request")
    max_source_lines: int = Field(400, ge=1, le=100_000, description="most lines get_source returns at once")


MILVUS_SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


class MilvusSettings(_Section):
    """Where the Milvus engine keeps chunks and vectors (localrag/store/milvus.py)."""

    uri: str = Field(
        "milvus.db",
        min_length=1,
        description="a file path (Milvus Lite) or http://host:19530 (a Milvus server or cluster)",
    )
    # SecretStr: `localrag config show` prints it as stars
    token: SecretStr | None = Field(None, description="'user:password' or an API key, for a server with authentication")
    collection: str = Field("localrag", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="collection name prefix")
    db_name: str | None = Field(None, description="Milvus database (servers only; default: 'default')")
    # "localrag": Milvus's BM25 scores the terms of localrag's own tokenizer (stemmed, identifiers
    # split), as the local store does; "milvus": Milvus's standard analyzer on the raw text (no
    # stemming). Measured on SciFact in docs/milvus.md.
    bm25_terms: Literal["localrag", "milvus"] = "localrag"
    timeout: float = Field(10.0, gt=0, description="seconds to wait for the server to answer")
    # "auto": FLAT (exact, as the local store below 200k chunks) on Milvus Lite, where AUTOINDEX
    # is HNSW and cost SciFact 0.011 recall@100; the server's AUTOINDEX elsewhere. Read when the
    # collection is created.
    dense_index: Literal["auto", "FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"] = "auto"

    @field_validator("uri")
    @classmethod
    def _uri_kind(cls, uri: str) -> str:
        if not uri.startswith(MILVUS_SERVER_SCHEMES) and not uri.endswith(".db"):
            raise ValueError("expected a Milvus Lite file ending in .db or a server address (http://host:19530)")
        return uri

    @property
    def is_server(self) -> bool:
        return self.uri.startswith(MILVUS_SERVER_SCHEMES)


class StoreSettings(_Section):
    engine: Literal["local", "milvus"] = "local"
    milvus: MilvusSettings = MilvusSettings()


class Settings(_Section):
    index: Path = Path("indexes/default")
    models_dir: Path = Field(
        Path("models"),
        description="models folder; left at 'models', localrag looks in ./models, a source checkout's models/ and the per-user folder",
    )
    models_url: str = Field(
        "https://huggingface.co",
        description="where `localrag models fetch` gets Hugging Face models (a mirror keeps its URL layout)",
    )
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    serve: ServeSettings = ServeSettings()
    store: StoreSettings = StoreSettings()

    # where each dotted key's value came from: default | file:PATH | env:NAME | flag
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    def effective(self) -> list[tuple[str, Any, str]]:
        """(dotted key, value, source) for every setting."""
        rows = []
        for key, value in _flatten(self.model_dump(mode="json")).items():
            rows.append((key, value, self.sources.get(key, "default")))
        return rows


ENV_PREFIX = "LOCALRAG_"
# Short env names from DESIGN.md, plus LOCALRAG_<SECTION>__<KEY> for everything else.
_ENV_ALIASES = {"LOCALRAG_INDEX": "index", "LOCALRAG_MODELS": "models_dir"}


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {dotted!r}: {p!r} is not a section")
    node[parts[-1]] = value


def _env_values(environ: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in environ.items():
        if name in _ENV_ALIASES:
            out[_ENV_ALIASES[name]] = (value, name)
        elif name.startswith(ENV_PREFIX) and "__" in name:
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            out[dotted] = (value, name)
    return out


def _origin_of(key: str, origin: dict[str, str]) -> str:
    """Where `key` came from; for a section, where its first offending entry came from."""
    if key in origin:
        return origin[key]
    return next((src for k, src in origin.items() if k.startswith(key + ".")), "")


def _field_at(loc: tuple) -> Any:
    """The FieldInfo at a dotted location of Settings, or None (unknown key)."""
    model: Any = Settings
    field = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        field = model.model_fields[part]
        model = field.annotation
    return field


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: 'an integer', "one of 'a', 'b'", 'a [section] table'."""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and len(args) < len(get_args(annotation)):  # X | None
        return " or ".join(_type_name(a) for a in args) + " (or left out)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a table of settings"
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        SecretStr: "a string",
        Path: "a path (string)",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _suggestion(loc: tuple) -> str:
    """' (did you mean 'llm.model'?)' for a misspelt key, else ''."""
    parent = _field_at(loc[:-1]) if len(loc) > 1 else None
    model = parent.annotation if parent is not None else Settings
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?)" if close else ""


def _format_validation_error(err: ValidationError, origin: dict[str, str]) -> str:
    """One line naming the key, where it was set (file, env variable, flag) and the expected type."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    key = ".".join(str(p) for p in loc) or "(root)"
    where = _origin_of(key, origin)
    where = f" (from {where})" if where else ""
    if first["type"] == "extra_forbidden":
        return f"unknown config key {key!r}{where}{_suggestion(loc)}"
    field = _field_at(loc)
    got = f"got {first.get('input')!r}"
    if field is not None and _is_type_error(first["type"]):
        return f"bad config value for {key!r}{where}: expected {_type_name(field.annotation)}, {got}"
    return f"bad config value for {key!r}{where}: {first['msg']}, {got}"


def _is_type_error(kind: str) -> bool:
    """A value of the wrong type (not one out of range or failing a cross-field check)."""
    return kind.endswith(("_type", "_parsing", "literal_error", "_from_float")) or kind in {"enum", "is_instance_of"}


def find_config_file(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    candidate = Path.cwd() / CONFIG_FILE
    return candidate if candidate.is_file() else None


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build Settings. `overrides` are dotted keys from command-line flags (None values ignored)."""
    tree: dict[str, Any] = {}
    origin: dict[str, str] = {}

    path = find_config_file(config_file)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        for key, value in _flatten(data).items():
            _set_dotted(tree, key, value)
            origin[key] = f"file:{path}"

    for key, (value, name) in _env_values(dict(os.environ if environ is None else environ)).items():
        _set_dotted(tree, key, value)
        origin[key] = f"env:{name}"

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        _set_dotted(tree, key, value)
        origin[key] = "flag"

    try:
        settings = Settings.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, origin)) from None
    settings.sources = origin
    return settings
