"""Environment switches that keep every model library off the network.

Set before any model library (huggingface_hub, transformers, sentence-transformers) is imported:
they read these at import time. OpenVINO and NNCF (the optional fast encoder backend) have a
telemetry client of their own that environment switches do not reliably cover:
`block_native_telemetry` keeps it from loading. tests/e2e/test_offline.py watches the syscalls
(native libraries included) to prove that nothing tries the network.
"""

import os
import sys

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    # onnxruntime (OCR) >= 1.32 on Linux writes a device id under ~/.cache/Microsoft and sends
    # usage events to a Microsoft collector unless this is set before it initializes.
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# Not about the network, but read at library load like the above: OpenMP threads that spin while
# waiting (the default) make llama.cpp several times slower whenever anything else wants the CPU
# (measured: SmolLM2 ask 27.7 s -> 7.8 s on a busy 2-core machine). Users can still override it.
RUNTIME_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def enforce_offline_env() -> None:
    for key, value in {**OFFLINE_ENV, **RUNTIME_ENV}.items():
        os.environ.setdefault(key, value)
    block_native_telemetry()


def block_native_telemetry() -> None:
    """Keep OpenVINO and NNCF from loading their usage-telemetry client.

    Both import `openvino_telemetry` inside try/except ImportError and fall back to a no-op stub
    (OpenVINO's converter: openvino.tools.ovc.telemetry_utils; NNCF: nncf.telemetry.wrapper).
    Without this, `import openvino` sends an event to an analytics host in a background thread
    unless a consent file under ~/intel says no or CI=true is set. Marking the module absent
    keeps the user's home and environment untouched.
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]  # None: "not installed"
