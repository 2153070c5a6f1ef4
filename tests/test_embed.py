"""Embedder.encode: input order kept across length-sorted blocks, unit vectors, progress to the end."""

from __future__ import annotations

import numpy as np


def _texts() -> list[str]:
    # lengths deliberately out of order, more than one block (batch_size 8 -> blocks of 16)
    words = "retrieval augmented generation keeps answers grounded in the indexed folder".split()
    return [" ".join(words[: 1 + (i * 7) % len(words)]) + f" note {i}" for i in range(37)]


def test_encode_keeps_input_order_across_sorted_blocks(models_dir) -> None:
    from localrag.embed import Embedder

    emb = Embedder(models_dir / "all-MiniLM-L6-v2", precision="fp32", batch_size=8)
    texts = _texts()
    done: list[int] = []
    vecs = emb.encode(texts, progress=done.append)

    assert vecs.shape == (len(texts), emb.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert done == sorted(done) and done[-1] == len(texts) and len(done) == 3
    # each row is that text's own embedding, whichever block its length put it in
    for i in (0, 5, 17, 36):
        assert float(vecs[i] @ emb.encode_query(texts[i])) > 0.9999
    assert float(vecs[0] @ vecs[1]) < 0.9999


def test_bf16_stays_close_to_fp32(models_dir) -> None:
    from localrag.embed import Embedder

    texts = _texts()[:8]
    fp32 = Embedder(models_dir / "all-MiniLM-L6-v2", precision="fp32").encode(texts)
    bf16 = Embedder(models_dir / "all-MiniLM-L6-v2", precision="bf16").encode(texts)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(fp32 * bf16, axis=1))) > 0.999
