"""Retrieval evaluation.

- `metrics`: nDCG@k, recall@k, MRR@k exactly as trec_eval / pytrec_eval compute them.
- `beir_format`: reading and validating BEIR folders (corpus.jsonl, queries.jsonl, qrels/).
- `beir`: `run_beir`, which indexes a BEIR corpus through the product's own indexing and
  search path and reports quality and speed (`localrag eval beir`).
- `answers`: answer evaluation (citations, abstentions, time to first token).
"""
