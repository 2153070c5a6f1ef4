"""localrag.hardware: device settings against what this machine's torch sees, the llama.cpp backend
parser, the install lines and the model-size advice."""

from __future__ import annotations

import pytest

from localrag import hardware
from localrag.config import load_settings
from localrag.embed import embedder_plan, load_embedder
from localrag.errors import ConfigError
from localrag.retrieve.rerank import reranker_plan

no_gpu = pytest.mark.skipif(bool(hardware.torch_devices()), reason="torch sees a GPU here")


def _settings(**overrides):
    return load_settings(overrides=overrides, environ={})


@no_gpu
def test_auto_devices_keep_the_openvino_int8_cpu_default():
    settings = _settings()
    assert embedder_plan(settings) == hardware.EncoderPlan(
        "cpu", "openvino", "int8", 64, "no CUDA or MPS device seen by torch"
    )
    assert reranker_plan(settings) == hardware.EncoderPlan(
        "cpu", "openvino", "int8", 32, "no CUDA or MPS device seen by torch"
    )


@no_gpu
@pytest.mark.parametrize(
    ("key", "device"), [("embedder.device", "cuda"), ("embedder.device", "mps"), ("retrieval.reranker_device", "cuda")]
)
def test_a_device_torch_does_not_see_is_an_error_naming_the_field(key, device):
    settings = _settings(**{key: device})
    plan = embedder_plan if key.startswith("embedder") else reranker_plan
    with pytest.raises(
        ConfigError,
        match=rf"bad config value for '{key}': '{device}' is not available here .* set {key} = 'auto' or 'cpu'",
    ):
        plan(settings)


def test_unknown_device_names_are_config_errors():
    for key in ("embedder.device", "retrieval.reranker_device"):
        with pytest.raises(
            ConfigError, match=rf"'{key}' \(from flag\): expected one of 'auto', 'cpu', 'cuda', 'mps', got 'tpu'"
        ):
            _settings(**{key: "tpu"})


def test_the_cpu_device_keeps_the_chosen_backend_and_batch():
    plan = embedder_plan(
        _settings(**{"embedder.device": "cpu", "embedder.backend": "torch", "embedder.batch_size": 16})
    )
    assert (plan.device, plan.backend, plan.precision, plan.batch_size) == ("cpu", "torch", "bf16", 16)


@no_gpu
def test_load_embedder_runs_on_the_planned_device(models_dir):
    embedder = load_embedder(
        _settings(models_dir=str(models_dir), **{"embedder.device": "cpu", "embedder.backend": "torch"})
    )
    assert embedder.device == "cpu" and embedder.backend == "torch"
    assert str(embedder.model.device) == "cpu"
    assert embedder.encode(["a tomato plant"]).shape == (1, embedder.dim)


def test_gpu_backend_from_llama_system_info():
    cpu = "CPU : SSE3 = 1 | AVX2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
    assert hardware.gpu_backend(cpu, False) is None
    assert (
        hardware.gpu_backend("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + cpu, True) == "CUDA"
    )
    assert hardware.gpu_backend("Metal : EMBED_LIBRARY = 1 | " + cpu, True) == "Metal"
    assert hardware.gpu_backend(cpu + "Vulkan : ", True) == "Vulkan"
    assert hardware.gpu_backend(cpu, True) == "GPU"  # offload supported, backend not named


def test_install_lines_name_the_cmake_switch():
    assert hardware.pip_install_line("CUDA") == (
        'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir "llama-cpp-python>=0.3.16,<0.4"'
    )
    assert '"-DGGML_METAL=on"' in hardware.pip_install_line("Metal")
    assert '"-DGGML_VULKAN=on"' in hardware.pip_install_line("Vulkan")


def test_parse_nvidia_smi_and_meminfo():
    gpus = hardware.parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564, 23012\nNVIDIA A100-SXM4-80GB, 81920, [N/A]\n")
    assert gpus == [
        {"name": "NVIDIA GeForce RTX 4090", "memory_gb": 24.0, "free_gb": 22.5},
        {"name": "NVIDIA A100-SXM4-80GB", "memory_gb": 80.0, "free_gb": None},
    ]
    assert hardware.ram_gb("MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\n") == {
        "total": 15.6,
        "available": 7.8,
    }


def test_gpu_kind_seen_picks_the_backend_the_gpu_needs():
    assert hardware.gpu_kind_seen([], [{"name": "RTX", "memory_gb": 8.0, "free_gb": 7.0}]) == "CUDA"
    assert hardware.gpu_kind_seen([{"device": "cuda:0", "name": "RTX", "memory_gb": 8.0}], []) == "CUDA"
    assert hardware.gpu_kind_seen([{"device": "mps", "name": "Apple GPU (Metal)", "memory_gb": None}], []) == "Metal"


def test_model_size_advice_follows_memory_and_cores():
    small = hardware.recommend_model(ram_total_gb=8, vram_gb=None, gpu_offload=False, cores=2)
    assert small["size"] == "1.5B" and "2 CPU cores" in small["reason"]
    assert hardware.recommend_model(ram_total_gb=4, vram_gb=None, gpu_offload=False, cores=16)["size"] == "1.5B"
    roomy = hardware.recommend_model(ram_total_gb=64, vram_gb=None, gpu_offload=False, cores=16)
    assert roomy["size"] == "7B" and "16 CPU cores" in roomy["reason"]
    gpu = hardware.recommend_model(ram_total_gb=32, vram_gb=24, gpu_offload=True, cores=8)
    assert gpu["size"] == "14B" and "24 GB of GPU memory" in gpu["reason"]
    assert hardware.recommend_model(ram_total_gb=32, vram_gb=8, gpu_offload=True, cores=8)["size"] == "7B"


def test_torch_cannot_see_a_gpu_is_decided_without_torch_only_where_it_is_certain(tmp_path):
    node = tmp_path / "nvidia0"
    assert hardware.torch_cannot_see_a_gpu("Linux", "2.13.0+cpu", nodes=(str(node),))
    assert hardware.torch_cannot_see_a_gpu("Linux", "2.13.0", nodes=(str(node),))  # no GPU device node
    node.touch()
    assert not hardware.torch_cannot_see_a_gpu("Linux", "2.13.0", nodes=(str(node),))  # CUDA build, a GPU node
    assert hardware.torch_cannot_see_a_gpu("Linux", "2.13.0+cpu", nodes=(str(node),))  # a CPU build sees none
    assert not hardware.torch_cannot_see_a_gpu("Darwin", "2.13.0", nodes=())  # MPS: only torch can say
    assert not hardware.torch_cannot_see_a_gpu("Windows", "2.13.0+cpu", nodes=())
