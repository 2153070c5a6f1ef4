"""A Milvus Lite index file cut short by a killed process is rebuilt from the stored vectors."""

from __future__ import annotations

import pytest

from localrag.store.milvus_client import ensure_loaded

pymilvus = pytest.importorskip("pymilvus")


def test_an_index_file_cut_short_is_rebuilt_and_the_collection_loads(tmp_path):
    from pymilvus import DataType, MilvusClient

    db = tmp_path / "m.db"
    client = MilvusClient(str(db))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection("c", schema=schema, index_params=index)
    client.insert("c", [{"id": i, "vector": [float(i == j) for j in range(4)]} for i in range(4)])
    client.flush("c")  # a segment on disk
    client.release_collection("c")
    client.load_collection("c")  # writes the index file
    client.release_collection("c")
    [sidecar] = db.rglob("*.vector.flat.idx")
    sidecar.write_bytes(sidecar.read_bytes()[:-16])  # its last vector missing, as a SIGKILL mid-write leaves it
    with pytest.raises(Exception, match="not fully written|Failed to read"):
        client.load_collection("c")

    ensure_loaded(client, "c")

    [[hit]] = client.search("c", data=[[0.0, 0.0, 1.0, 0.0]], limit=1, anns_field="vector")
    assert hit["id"] == 2
    assert client.describe_index("c", "vector")["index_type"] == "FLAT"
    client.close()
