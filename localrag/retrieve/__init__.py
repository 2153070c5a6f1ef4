"""Retrieval: dense + BM25 candidates, reciprocal rank fusion, cross-encoder rerank."""

from localrag.retrieve.fusion import rrf
from localrag.retrieve.searcher import Searcher, SearchResult

__all__ = ["Searcher", "SearchResult", "rrf"]
