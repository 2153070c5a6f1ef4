"""BM25 keyword search over chunks, derived from the catalogue.

Two engines score with the same tokenizer and the same k1/b:
- "bm25s" (default): sparse precomputed scores, saved as .npy arrays + JSON (no pickle),
  loaded memory-mapped. Lucene's BM25 variant.
- "rank-bm25": BM25Okapi, a plain-Python reference. It cannot be saved without pickle, so
  it is rebuilt from the catalogue each time the index is opened (fine for small folders,
  slow for big ones: ~450 ms per query at 100k chunks against bm25s' ~2 ms).

The two differ only in their IDF (Lucene's log(1 + x) against Okapi's log(x) with an
epsilon floor), which leaves the order of single-term results identical and the top of
multi-term results nearly always the same (tests/store/test_keyword.py).

On disk (bm25s): DIR/bm25-<generation>-<random>/ holds the arrays and ids.npy; DIR/bm25.json
names that folder and records generation, sizes and sha256 of every file. A new index is
written to a new folder and then bm25.json is replaced atomically, so a reader sees either
the old index or the new one, never a mix.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from localrag.store.atomic import read_json, sha256_file, write_json_atomic
from localrag.store.crashpoints import crash_point
from localrag.store.passage import passage_text
from localrag.store.tokenize import TOKENIZER_VERSION, tokenize

log = logging.getLogger("localrag")

Engine = Literal["bm25s", "rank-bm25"]
K1 = 1.5
B = 0.75
SIDECAR = "bm25.json"
_DIR_PREFIX = "bm25-"
_IDS_FILE = "ids.npy"


def _bm25s():
    """Import bm25s, undoing its import-time `setLevel(DEBUG)` so its chatter stays out of our logs."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class _Scorer(Protocol):
    def scores(self, query_tokens: list[str]) -> np.ndarray: ...  # one score per position

    def known(self, term: str) -> bool: ...  # the term occurs in the corpus


class _Bm25sScorer:
    def __init__(self, model):
        self.model = model

    @classmethod
    def build(cls, corpus_tokens: list[list[str]], k1: float, b: float) -> "_Bm25sScorer":
        model = _bm25s().BM25(k1=k1, b=b, method="lucene")
        model.index(corpus_tokens, show_progress=False)
        return cls(model)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        known = self.model.get_tokens_ids(query_tokens)
        if not known:
            return np.zeros(self.model.scores["num_docs"], dtype=np.float32)
        return self.model.get_scores_from_ids(known)

    def known(self, term: str) -> bool:
        return term in self.model.vocab_dict


class _RankBm25Scorer:
    def __init__(self, model, n: int):
        self.model = model
        self.n = n

    @classmethod
    def build(cls, corpus_tokens: list[list[str]], k1: float, b: float) -> "_RankBm25Scorer":
        from rank_bm25 import BM25Okapi

        return cls(BM25Okapi(corpus_tokens, k1=k1, b=b), len(corpus_tokens))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        return np.asarray(self.model.get_scores(query_tokens), dtype=np.float32)

    def known(self, term: str) -> bool:
        return term in self.model.idf


def top_n(scores: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Positions of the n best positive scores, best first (ties: lower position first)."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    positive = np.flatnonzero(scores > 0)
    if len(positive) > n:
        part = np.argpartition(-scores[positive], n - 1)[:n]
        positive = positive[part]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order]


class KeywordIndex:
    """BM25 over chunk ids. Build with `build`, `from_catalog`; persist with `save`/`load`."""

    def __init__(self, engine: Engine, ids: np.ndarray, scorer: _Scorer | None, generation: int):
        self.engine = engine
        self.ids = np.asarray(ids, dtype=np.int64)  # position -> chunk id, ascending
        self._scorer = scorer  # None when there are no documents with any terms
        self.generation = generation

    def __len__(self) -> int:
        return len(self.ids)

    # ---- building --------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        docs: Iterable[tuple[int, str]],
        engine: Engine = "bm25s",
        generation: int = 0,
        k1: float = K1,
        b: float = B,
    ) -> "KeywordIndex":
        """Index (chunk_id, text) pairs; ids must be ascending."""
        ids: list[int] = []
        corpus: list[list[str]] = []
        for cid, text in docs:
            ids.append(cid)
            corpus.append(tokenize(text))
        scorer: _Scorer | None = None
        if any(corpus):
            scorer = (_Bm25sScorer if engine == "bm25s" else _RankBm25Scorer).build(corpus, k1, b)
        return cls(engine, np.asarray(ids, dtype=np.int64), scorer, generation)

    @classmethod
    def from_catalog(cls, catalog, engine: Engine = "bm25s") -> "KeywordIndex":
        """Build from every chunk in the catalogue (heading path + text, see passage.py)."""
        generation = catalog.generation

        def docs() -> Iterable[tuple[int, str]]:
            for batch in catalog.iter_chunk_texts():
                for cid, heading, text in batch:
                    yield cid, passage_text(heading, text)

        return cls.build(docs(), engine=engine, generation=generation)

    # ---- searching -------------------------------------------------------------------------
    def query_terms(self, query: str) -> list[str]:
        """The query's index terms that occur in the corpus, deduplicated, in query order."""
        if self._scorer is None:
            return []
        return [t for t in dict.fromkeys(tokenize(query, query=True)) if self._scorer.known(t)]

    @staticmethod
    def matched_terms(query: str, text: str) -> list[str]:
        """Query terms that occur in `text` (for --explain / highlighting)."""
        present = set(tokenize(text))
        return [t for t in dict.fromkeys(tokenize(query, query=True)) if t in present]

    def search(
        self, query: str, n: int, allowed_ids: np.ndarray | Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Best `n` chunks as (chunk_id, score), score > 0, best first; optionally only `allowed_ids`."""
        if self._scorer is None or n <= 0:
            return []
        tokens = tokenize(query, query=True)
        if not tokens:
            return []
        scores = self._scorer.scores(tokens)
        mask = None
        if allowed_ids is not None:
            mask = np.isin(self.ids, np.asarray(allowed_ids, dtype=np.int64))
        positions = top_n(scores, n, mask)
        return [(int(self.ids[p]), float(scores[p])) for p in positions]

    # ---- persistence (bm25s only) ----------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        """Write to a new folder, then point bm25.json at it; old folders are removed."""
        if self.engine != "bm25s":
            return  # rank-bm25 is rebuilt at load: it can only be saved with pickle
        index_dir = Path(index_dir)
        folder = index_dir / f"{_DIR_PREFIX}{self.generation}-{secrets.token_hex(4)}"
        folder.mkdir(mode=0o700)
        try:
            np.save(folder / _IDS_FILE, self.ids, allow_pickle=False)
            if isinstance(self._scorer, _Bm25sScorer):  # the engine is bm25s
                self._scorer.model.save(str(folder), allow_pickle=False, show_progress=False)
            files = {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(folder.iterdir())}
            crash_point("bm25-arrays")
            write_json_atomic(
                index_dir / SIDECAR,
                {
                    "engine": self.engine,
                    "generation": self.generation,
                    "count": len(self.ids),
                    "dir": folder.name,
                    "tokenizer_version": TOKENIZER_VERSION,
                    "k1": K1,
                    "b": B,
                    "files": files,
                },
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        crash_point("bm25-cleanup")
        for old in index_dir.glob(f"{_DIR_PREFIX}*"):
            if old.is_dir() and old.name != folder.name:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, index_dir: Path, generation: int) -> "KeywordIndex | None":
        """The saved bm25s index if it is complete, uncorrupted and built at `generation`; else None."""
        index_dir = Path(index_dir)
        meta = read_json(index_dir / SIDECAR)
        if meta is None:
            log.warning("keyword index in %s is missing or unreadable; rebuilding it from the catalogue", index_dir)
            return None
        why = _stale_reason(meta, generation)
        if why is None:
            folder = index_dir / str(meta["dir"])
            why = _files_problem(folder, meta.get("files", {}))
        if why is not None:
            # stale is routine (another process committed a generation): not worth a warning
            (log.info if why.startswith("stale") else log.warning)(
                "keyword index in %s is %s; rebuilding it from the catalogue", index_dir, why
            )
            return None
        try:
            ids = np.load(folder / _IDS_FILE, allow_pickle=False)
            scorer = None
            if (folder / "params.index.json").exists():
                model = _bm25s().BM25.load(str(folder), mmap=True, allow_pickle=False, show_progress=False)
                scorer = _Bm25sScorer(model)
        except Exception as e:  # noqa: BLE001 - any unreadable file means: rebuild
            log.warning("keyword index in %s is unreadable (%s); rebuilding it from the catalogue", index_dir, e)
            return None
        return cls("bm25s", ids, scorer, generation)


def _stale_reason(meta: dict, generation: int) -> str | None:
    if meta.get("engine") != "bm25s":
        return "from another engine"
    if meta.get("tokenizer_version") != TOKENIZER_VERSION:
        return "from an older tokenizer"
    if (meta.get("k1"), meta.get("b")) != (K1, B):
        return "built with other BM25 parameters"
    if meta.get("generation") != generation:
        return f"stale (generation {meta.get('generation')}, catalogue {generation})"
    if not isinstance(meta.get("dir"), str) or "/" in meta["dir"] or not meta["dir"].startswith(_DIR_PREFIX):
        return "corrupt (bad folder name)"
    return None


def _files_problem(folder: Path, files: dict) -> str | None:
    if not folder.is_dir() or not files:
        return "missing"
    for name, want in files.items():
        path = folder / name
        try:
            if path.stat().st_size != want.get("size"):
                return f"corrupt ({name} has the wrong size)"
        except OSError:
            return f"missing {name}"
        if sha256_file(path) != want.get("sha256"):
            return f"corrupt ({name} fails its checksum)"
    return None
