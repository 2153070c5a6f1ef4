"""BEIR-format datasets: DIR/corpus.jsonl, DIR/queries.jsonl, DIR/qrels/SPLIT.tsv.

Only reading and validating lives here; indexing and running a dataset is in
`localrag.eval.beir`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localrag.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BeirDoc:
    doc_id: str
    title: str
    text: str

    def document_text(self) -> str:
        """What gets indexed: "title\\n\\ntext" (just the text when there is no title)."""
        title = self.title.strip()
        return f"{title}\n\n{self.text}" if title else self.text


@dataclass(frozen=True, slots=True)
class BeirDataset:
    name: str
    directory: Path
    split: str
    corpus: list[BeirDoc]
    queries: dict[str, str]  # only the queries that have qrels in `split`
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found (a BEIR dataset folder holds corpus.jsonl, queries.jsonl, qrels/)")
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or "_id" not in obj:
                raise ConfigError(f'{path}:{n}: expected an object with an "_id"')
            yield n, obj


def load_corpus(path: Path) -> list[BeirDoc]:
    """corpus.jsonl -> documents in file order; duplicate ids are an error."""
    docs: list[BeirDoc] = []
    seen: set[str] = set()
    for n, obj in _jsonl(path):
        doc_id = str(obj["_id"])
        if doc_id in seen:
            raise ConfigError(f"{path}:{n}: duplicate document id {doc_id!r}")
        seen.add(doc_id)
        docs.append(BeirDoc(doc_id, str(obj.get("title") or ""), str(obj.get("text") or "")))
    return docs


def load_queries(path: Path) -> dict[str, str]:
    return {str(obj["_id"]): str(obj.get("text") or "") for _, obj in _jsonl(path)}


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """qrels/SPLIT.tsv (header `query-id corpus-id score`) -> query id -> doc id -> grade."""
    if not path.is_file():
        raise ConfigError(f"{path}: not found (is the split name right?)")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise ConfigError(f"{path}: expected a header 'query-id<TAB>corpus-id<TAB>score'")
        for n, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            try:
                qid, did, score = row[0].strip(), row[1].strip(), int(row[2])
            except (IndexError, ValueError):
                raise ConfigError(f"{path}:{n}: expected 'query-id<TAB>corpus-id<TAB>integer score'") from None
            qrels.setdefault(qid, {})[did] = score
    return qrels


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_beir(directory: Path, split: str = "test") -> BeirDataset:
    """Read and cross-check a BEIR dataset; queries are limited to those judged in `split`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such dataset folder")
    corpus = load_corpus(directory / "corpus.jsonl")
    all_queries = load_queries(directory / "queries.jsonl")
    qrels = load_qrels(directory / "qrels" / f"{split}.tsv")
    missing = sorted(q for q in qrels if q not in all_queries)
    if missing:
        raise ConfigError(
            f"{directory}: {len(missing)} query ids in qrels/{split}.tsv are not in queries.jsonl "
            f"(first: {missing[0]!r})"
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(directory.name, directory, split, corpus, queries, qrels)
