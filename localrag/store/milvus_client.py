"""Talking to Milvus: connecting (Lite file or server), the two collections' schemas, capabilities.

Collections, for `[store.milvus] collection = NAME`:
    NAME        one row per chunk and version that published it: id (the catalogue's chunk id), path, text, page, heading (JSON),
                lines, char span, vector, `terms` (what BM25 scores) and its sparse BM25 vector
                (computed by Milvus's BM25 function where the server has one), and the versions
                that bound its visibility: a row is live at version V when gen_from <= V < gen_to.
    NAME_meta   small JSON rows: "state" (the live version and what it was built from) and the
                document list of each version ("docs:<version>:<page>").
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from localrag.config import MilvusSettings
from localrag.errors import StoreUnavailableError
from localrag.store.keyword import B, K1

log = logging.getLogger("localrag")

LIVE_FOREVER = 2**62  # gen_to of a chunk no version has retired yet
TEXT_MAX = 65_535  # Milvus VARCHAR limit, bytes
PATH_MAX = 4096
VERSION_SHIFT = 40  # row key = version << 40 | chunk id: a renamed chunk gets a second row
META_DIM = 2  # Milvus wants a vector field in every collection; the meta rows carry a dummy one
_lite_users: dict[str, int] = {}  # open clients per Milvus Lite file in this process
HIT_FIELDS = ["path", "text", "page", "heading", "line_start", "line_end", "char_start", "char_end"]


def row_key(version: int, chunk_id: int) -> int:
    return (version << VERSION_SHIFT) | chunk_id


def connect(cfg: MilvusSettings):
    """A MilvusClient for `cfg.uri`; StoreUnavailableError (naming the uri and the fix) when it fails."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise StoreUnavailableError(
            "store.engine = 'milvus' needs pymilvus (and milvus-lite for a file uri): pip install 'localrag[milvus]'"
        ) from None
    uri = cfg.uri
    if not cfg.is_server:
        path = Path(uri).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = str(path)
    kwargs: dict[str, Any] = {"uri": uri, "timeout": cfg.timeout}
    if cfg.token:
        kwargs["token"] = cfg.token.get_secret_value()
    if cfg.db_name and cfg.is_server:
        kwargs["db_name"] = cfg.db_name
    try:
        client = MilvusClient(**kwargs)
        if not cfg.is_server:
            _lite_users[uri] = _lite_users.get(uri, 0) + 1
        return client
    except Exception as e:  # noqa: BLE001 - pymilvus raises several kinds; all mean "cannot use it"
        if cfg.is_server:
            fix = "start the server, or fix store.milvus.uri / store.milvus.token in localrag.toml"
        else:
            fix = (
                "a Milvus Lite file opens in one process at a time: stop the other localrag process using it, "
                "or point store.milvus.uri at a Milvus server"
            )
        raise StoreUnavailableError(
            f"cannot open Milvus at {cfg.uri} ({type(e).__name__}: {_first_line(e)}); {fix}"
        ) from None


def disconnect(client, cfg: MilvusSettings) -> None:
    """Close the client; the last one on a Milvus Lite file also stops its in-process server,
    which holds the file's lock (another process may then open it)."""
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing a dead connection is not an error
        pass
    if cfg.is_server:
        return
    uri = str(Path(cfg.uri).expanduser().resolve())
    _lite_users[uri] = _lite_users.get(uri, 1) - 1
    if _lite_users[uri] <= 0:
        del _lite_users[uri]
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [""])[0][:300]


def server_version(client) -> str:
    try:
        return str(client.get_server_version())
    except Exception:  # noqa: BLE001 - an old server may not answer; treat it as unknown
        return "unknown"


def has_bm25(version: str) -> bool:
    """BM25 functions came with Milvus 2.5; Milvus Lite (milvus_lite-X) has them."""
    if version.startswith("milvus_lite"):
        return True
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return m is None or (int(m[1]), int(m[2])) >= (2, 5)


def dense_index_type(cfg: MilvusSettings) -> str:
    if cfg.dense_index != "auto":
        return cfg.dense_index
    return "AUTOINDEX" if cfg.is_server else "FLAT"


def create_chunks_collection(client, name: str, dim: int, bm25: bool, index_type: str = "AUTOINDEX") -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)  # row_key(version, id)
    schema.add_field("id", DataType.INT64)
    schema.add_field("path", DataType.VARCHAR, max_length=PATH_MAX)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_MAX, **({"enable_analyzer": True} if bm25 else {}))
    schema.add_field("heading", DataType.VARCHAR, max_length=TEXT_MAX)
    for field in ("ordinal", "page", "line_start", "line_end", "char_start", "char_end", "gen_from", "gen_to"):
        schema.add_field(field, DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("vector", index_type=index_type, metric_type="IP")
    if bm25:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
            )
        )
        # the local store's k1 and b, so both engines rank alike
        index.add_index(
            "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": K1, "bm25_b": B}
        )
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def create_meta_collection(client, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=PATH_MAX)
    schema.add_field("value", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=META_DIM)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def collection_has_bm25(client, name: str) -> bool:
    return any(f.get("name") == "sparse" for f in client.describe_collection(name).get("fields", []))


def ensure_loaded(client, name: str) -> None:
    """A server keeps collections released after a restart; searching needs them loaded."""
    try:
        state = str(client.get_load_state(name).get("state", ""))
    except Exception:  # noqa: BLE001 - Milvus Lite loads everything; an old server may not answer
        return
    if "NotLoad" in state:
        try:
            client.load_collection(name)
        except Exception as e:  # noqa: BLE001 - pymilvus wraps the engine's error
            if not _cut_short(e):
                raise
            rebuild_vector_index(client, name)
            client.load_collection(name)


def _cut_short(error: Exception) -> bool:
    """Milvus Lite writes an index file in place: a process killed while writing it leaves a file
    that can never be loaded again ("file seems not fully written")."""
    return any(sign in str(error) for sign in ("not fully written", "Failed to read all data", "EOF: reading array"))


def rebuild_vector_index(client, name: str) -> None:
    """Drop the collection's vector index (its files go with it) and create it again with the same
    type and metric: it is derived from the stored vectors, so nothing is lost."""
    spec = client.describe_index(name, "vector")
    client.drop_index(name, "vector")
    index = client.prepare_index_params()
    index.add_index("vector", index_type=spec["index_type"], metric_type=spec["metric_type"])
    client.create_index(name, index)
