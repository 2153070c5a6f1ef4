"""GPU offload settings through the real CPU build of llama.cpp and the real SmolLM2 GGUF.

This machine's llama.cpp has no GPU backend, which makes a forced offload (llm.n_gpu_layers = 99)
a real offload failure: the probe subprocess reports it and the model falls back to the CPU.
"""

from __future__ import annotations

import logging

import pytest

from localrag import hardware
from localrag.config import load_settings

llama_cpp = pytest.importorskip("llama_cpp")
from localrag.generate.llama import GpuRequest, choose_variant, gpu_offload_supported, gpu_request  # noqa: E402

cpu_build = pytest.mark.skipif(gpu_offload_supported(), reason="this llama.cpp has a GPU backend")


@cpu_build
def test_auto_resolves_to_no_layers_on_the_cpu_build_and_says_why():
    request = gpu_request(load_settings(environ={}).llm)
    assert request.layers == 0
    assert "no GPU backend" in request.reason and "llama_supports_gpu_offload()" in request.reason


@cpu_build
def test_a_forced_offload_fails_in_the_probe_and_falls_back_to_the_cpu(smollm2_path):
    variant = choose_variant(smollm2_path, n_threads=2, use_cache=False, gpu=GpuRequest(layers=99))
    assert variant["n_gpu_layers"] == 0
    assert variant["fallback"] == (
        "could not offload 99 layers to the GPU: the installed llama.cpp has no GPU backend; "
        "every layer runs on the CPU instead"
    )


@cpu_build
def test_load_llm_says_the_fallback_once_and_answers_on_the_cpu(smollm2_path, caplog):
    from localrag.generate.base import load_llm

    settings = load_settings(
        overrides={"llm.model": str(smollm2_path), "llm.n_gpu_layers": 99, "llm.n_ctx": 1024}, environ={}
    )
    with caplog.at_level(logging.WARNING, logger="localrag"):
        llm = load_llm(settings)
        again = load_llm(settings)
    assert again is llm and llm.device == "CPU" and llm.gpu_layers == 0
    said = [r.getMessage() for r in caplog.records if "could not offload" in r.getMessage()]
    assert len(said) == 1 and "every layer runs on the CPU" in said[0]
    assert llm.offload_note and "99 layers" in llm.offload_note
    text = "".join(llm.stream([{"role": "user", "content": "Say hello."}], max_tokens=8))
    assert text.strip()


def test_fallback_tries_half_the_layers_then_the_cpu():
    assert hardware.fallback_layers(0, 30) == [0]
    assert hardware.fallback_layers(hardware.ALL_LAYERS, 30) == [hardware.ALL_LAYERS, 15, 0]
    assert hardware.fallback_layers(99, 30) == [99, 15, 0]  # more than the model has: half of its own
    assert hardware.fallback_layers(10, 30) == [10, 5, 0]
    assert hardware.fallback_layers(1, None) == [1, 0]
    assert hardware.fallback_layers(hardware.ALL_LAYERS, None) == [hardware.ALL_LAYERS, 0]


def test_flash_attention_stays_off_on_the_cpu_unless_asked():
    assert hardware.flash_attention("auto", 0) == "off"
    assert hardware.flash_attention("auto", hardware.ALL_LAYERS) == "auto"
    assert hardware.flash_attention("on", 0) == "on"
    assert hardware.flash_attention("off", 12) == "off"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("llm.n_gpu_layers", -1, "expected 'auto' or a non-negative integer, got -1"),
        ("llm.n_gpu_layers", "all", "expected 'auto' or a non-negative integer, got 'all'"),
        ("llm.n_gpu_layers", 2.5, "expected 'auto' or a non-negative integer, got 2.5"),
        ("llm.main_gpu", -1, "greater than or equal to 0"),
        ("llm.flash_attn", "yes", "expected one of 'auto', 'on', 'off', got 'yes'"),
    ],
)
def test_bad_gpu_settings_are_config_errors_naming_the_field(key, value, expected):
    from localrag.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"'{key}' \(from flag\)") as err:
        load_settings(overrides={key: value}, environ={})
    assert expected in str(err.value)


def test_gpu_settings_parse_from_the_environment():
    s = load_settings(
        environ={"LOCALRAG_LLM__N_GPU_LAYERS": "20", "LOCALRAG_LLM__MAIN_GPU": "1", "LOCALRAG_LLM__FLASH_ATTN": "on"}
    )
    assert (s.llm.n_gpu_layers, s.llm.main_gpu, s.llm.flash_attn) == (20, 1, "on")
    assert load_settings(environ={}).llm.n_gpu_layers == "auto"


def test_a_decode_failure_with_layers_offloaded_ends_the_answer_and_moves_the_model_to_the_cpu(smollm2_path):
    """The recovery path for a GPU that fails mid-answer. No GPU here: the model is built as if the
    probe had chosen 99 offloaded layers (this CPU build runs them on the CPU regardless), and the
    failure is a real one, llama_decode finding no room in a 512-token KV cache for a longer prompt."""
    from localrag.errors import LLMError
    from localrag.generate.llama import LlamaCppLLM

    llm = LlamaCppLLM(
        smollm2_path, n_ctx=512, n_threads=2, variant={"use_extra_bufts": False, "n_gpu_layers": 99}, gpu=GpuRequest(99)
    )
    assert llm.device == "GPU"
    with pytest.raises(LLMError, match="failed on the GPU .*; this answer stopped, the next question runs on the CPU"):
        llm.opening_probability([{"role": "user", "content": "word " * 700}], "I")
    assert llm.device == "CPU" and llm.gpu_layers == 0
    assert "".join(llm.stream([{"role": "user", "content": "Say hello."}], max_tokens=8)).strip()
