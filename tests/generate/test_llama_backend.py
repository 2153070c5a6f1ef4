"""The llama.cpp backend with the real SmolLM2 model: generation, exact counts, prefix reuse, cancel."""

from __future__ import annotations

import threading
import time

import pytest

from localrag.config import Settings
from localrag.errors import LLMError
from localrag.generate.prompt import build_messages
from localrag.types import Hit

HITS = [Hit(chunk_id=1, path="garden/tomatoes.md", text="The tomatoes get liquid seaweed fertiliser every two weeks.")]


def _plan(llm, question="What fertiliser do the tomatoes get?", hits=HITS):
    return build_messages(question, hits, llm, Settings())


def test_generates_text_from_the_gguf_chat_template(smol):
    assert "<|im_start|>" in smol.chat_template  # SmolLM2's own ChatML template is used
    assert smol._llama.chat_format == "chat_template.default"
    assert smol._llama.model_params.use_extra_bufts is False
    plan = _plan(smol)
    text = "".join(smol.stream(plan.messages, 40))
    assert len(text.strip()) > 0
    assert "<|im_end|>" not in text


def test_prompt_count_matches_what_llama_cpp_evaluates(smol):
    plan = _plan(smol, question="Are tomatoes fertilised?")
    list(smol.stream(plan.messages, 1))
    # n_tokens = evaluated prompt tokens (+ the sampled token once it is fed back)
    assert smol._llama.n_tokens in (plan.prompt_tokens, plan.prompt_tokens + 1)


def test_system_prompt_prefix_is_reused_between_questions(smol):
    evaluated: list[int] = []
    real_eval = smol._llama.eval

    def counting_eval(tokens):
        evaluated.append(len(tokens))
        return real_eval(tokens)

    smol._llama.eval = counting_eval
    try:
        first = _plan(smol, question="When are roses pruned?")
        list(smol.stream(first.messages, 4))
        evaluated.clear()
        second = _plan(smol, question="How often are the tomatoes watered in summer?")
        list(smol.stream(second.messages, 4))
    finally:
        del smol._llama.eval
    shared = smol.count_messages(second.messages[:1])  # at least the system message is shared
    assert evaluated, "nothing evaluated"
    assert evaluated[0] <= second.prompt_tokens - shared


def _stream_in_thread(llm, messages, max_tokens, cancel):
    out: dict = {"pieces": [], "first": threading.Event(), "done": threading.Event(), "error": None}

    def run():
        try:
            for piece in llm.stream(messages, max_tokens, cancel=cancel):
                out["pieces"].append(piece)
                out["first"].set()
        except Exception as e:  # surfaced by the assertions below
            out["error"] = e
        finally:
            out["done"].set()

    threading.Thread(target=run, daemon=True).start()
    return out


def test_cancel_stops_generation_within_half_a_second(smol):
    messages = [{"role": "user", "content": "Write a very long story about a garden, with many chapters."}]
    cancel = threading.Event()
    run = _stream_in_thread(smol, messages, 1500, cancel)
    assert run["first"].wait(30), "no token arrived"
    time.sleep(0.2)
    t = time.perf_counter()
    cancel.set()
    assert run["done"].wait(5)
    stopped_after = time.perf_counter() - t
    assert run["error"] is None
    assert stopped_after < 0.5, f"took {stopped_after:.3f}s to stop"
    assert len(run["pieces"]) < 1500


def test_cancel_interrupts_prompt_processing_and_the_model_recovers(smol_factory):
    llm = smol_factory(8192)
    long_text = "The garden has many beds of tomatoes, basil and roses. " * 650  # ~7k tokens of prompt
    messages = [{"role": "user", "content": long_text + "\nSummarise."}]
    cancel = threading.Event()
    t0 = time.perf_counter()
    run = _stream_in_thread(llm, messages, 16, cancel)
    time.sleep(0.3)
    t = time.perf_counter()
    cancel.set()
    assert run["done"].wait(10)
    stopped_after = time.perf_counter() - t
    assert run["error"] is None and run["pieces"] == []
    assert stopped_after < 0.5, f"prompt processing took {stopped_after:.3f}s to stop"
    assert time.perf_counter() - t0 < 3  # it really stopped early, not after the whole prompt
    # the aborted decode left no damage: the next request works
    plan = _plan(llm)
    assert "".join(llm.stream(plan.messages, 8)).strip()


def test_a_model_that_cannot_run_is_refused_with_a_way_out(tmp_path):
    pytest.importorskip("llama_cpp")
    from localrag.generate.llama import load_llama

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 4096)
    with pytest.raises(LLMError, match="--llm none"):
        load_llama(bad, n_ctx=512, n_threads=1)


def test_load_llm_resolves_the_registry_name_and_keeps_the_model_warm(models_dir):
    pytest.importorskip("llama_cpp")
    from localrag.generate.base import load_llm, physical_cores
    from localrag.generate.llama import LlamaCppLLM

    settings = Settings(models_dir=models_dir, llm={"model": "smollm2-135m-instruct", "n_ctx": 1024})
    llm = load_llm(settings)
    assert isinstance(llm, LlamaCppLLM) and llm.n_ctx == 1024
    assert llm._llama.n_threads == physical_cores() and llm._llama.n_threads_batch == physical_cores()
    assert load_llm(settings) is llm  # loaded once


def test_opening_probability_reads_the_first_token_and_leaves_the_prompt_cached(smol):
    plan = _plan(smol)
    baseline = "".join(smol.stream(plan.messages, 24))
    smol._llama.reset()  # nothing cached: the estimate evaluates the whole prompt
    p_not_found = smol.opening_probability(plan.messages, "I couldn't find this in your documents.")
    p_the = smol.opening_probability(plan.messages, "The")
    assert 0.0 < p_not_found < 1.0 and 0.0 < p_the < 1.0 and p_not_found + p_the <= 1.0
    # the second call found the prompt cached and must give the same distribution
    assert smol.opening_probability(plan.messages, "The") == pytest.approx(p_the, rel=1e-4)
    assert smol._llama.n_tokens == plan.prompt_tokens
    # generating right after it is exactly what generating from scratch gives (greedy, same seed)
    assert "".join(smol.stream(plan.messages, 24)) == baseline
    # the most likely opening really is the one generated most of the time: its token scores highest
    first_word = baseline.split()[0]
    assert smol.opening_probability(plan.messages, first_word) >= max(p_not_found, 0.05)


def test_a_reply_can_be_begun_and_the_model_continues_it_in_the_template(smol):
    assert smol.continues_replies
    plan = _plan(smol, question="Do the tomatoes get seaweed?")
    pieces = list(smol.stream(plan.messages, 24, opening="Yes. The source says"))
    assert pieces[0] == "Yes. The source says"  # the opening comes first, as written
    rest = "".join(pieces[1:])
    assert rest.strip() and "<|im_end|>" not in rest and "<|im_start|>" not in rest
    # the model saw the rendered prompt plus the opening, nothing else
    opening_tokens = smol._llama.tokenize(b"Yes. The source says", add_bos=False, special=False)
    evaluated = list(smol._llama._input_ids[: plan.prompt_tokens + len(opening_tokens)])
    assert evaluated == smol._prompt_tokens(plan.messages) + opening_tokens


def test_the_prompts_fixed_beginning_is_saved_once_and_restored_by_later_processes(smollm2_path, tmp_path, monkeypatch):
    """A one-off `ask` restores the state after the template opening and system prompt instead of
    evaluating them again; the reply is the same, and a corrupt saved state is evaluated and replaced."""
    from localrag.generate.llama import LlamaCppLLM

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "localrag" / "llm-prefix"

    def fresh():  # a new model object: what a new process has (load_llama would share one)
        return LlamaCppLLM(smollm2_path, n_ctx=1024, n_threads=2, temperature=0.0)

    first = fresh()
    plan = _plan(first)
    reply = "".join(first.stream(plan.messages, 24))
    assert not first.prefix_restored
    (state,) = folder.glob("*.state")
    saved = state.read_bytes()

    second = fresh()
    assert "".join(second.stream(plan.messages, 24)) == reply
    assert second.prefix_restored
    # it holds exactly the shared beginning: the system prompt and the user turn's opening
    other = _plan(second, question="Which plants need the most water?").messages
    assert second._llama.n_tokens > 0 and len(list(folder.glob("*.state"))) == 1
    restored = fresh()
    restored._warm_start(other, restored._prompt_tokens(other))
    assert restored.prefix_restored
    assert restored.count_tokens(other[0]["content"]) < restored._llama.n_tokens < len(restored._prompt_tokens(other))

    state.write_bytes(saved[: len(saved) // 2])  # torn
    third = fresh()
    assert "".join(third.stream(plan.messages, 24)) == reply
    assert not third.prefix_restored and state.read_bytes() == saved


def test_without_the_state_internals_generation_goes_on(smollm2_path, tmp_path, monkeypatch):
    """A llama-cpp-python whose internals differ (no llama_state_* or _ctx): the prompt is evaluated
    as usual, nothing saved, the reply the same."""
    import llama_cpp

    from localrag.generate.llama import LlamaCppLLM

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    plain = LlamaCppLLM(smollm2_path, n_ctx=1024, n_threads=2, temperature=0.0)
    plan = _plan(plain)
    reply = "".join(plain.stream(plan.messages, 16))
    monkeypatch.delattr(llama_cpp, "llama_state_get_size")
    monkeypatch.delattr(llama_cpp, "llama_state_set_data")
    for state in (tmp_path / "localrag" / "llm-prefix").glob("*"):
        state.unlink()
    bare = LlamaCppLLM(smollm2_path, n_ctx=1024, n_threads=2, temperature=0.0)
    assert "".join(bare.stream(plan.messages, 16)) == reply
    assert not bare.prefix_restored and not list((tmp_path / "localrag" / "llm-prefix").glob("*.state"))
