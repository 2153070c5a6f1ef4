"""Environment switches that keep every model library off the network.

Set before any model library (huggingface_hub, transformers, sentence-transformers) is imported:
they read these at import time. localrag uses no OpenVINO/NNCF/onnxruntime backend, whose native
telemetry these switches would not cover; tests/e2e/test_offline.py watches the syscalls to prove it.
"""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# Not about the network, but read at library load like the above: OpenMP threads that spin while
# waiting (the default) make llama.cpp several times slower whenever anything else wants the CPU
# (measured: SmolLM2 ask 27.7 s -> 7.8 s on a busy 2-core machine). Users can still override it.
RUNTIME_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def enforce_offline_env() -> None:
    for key, value in {**OFFLINE_ENV, **RUNTIME_ENV}.items():
        os.environ.setdefault(key, value)
