"""Make the demo model's Hugging Face folder from nothing: a BPE tokenizer trained on the bundled text,
a small Llama model, and a short training run so that it writes words (a toy, and it says so).

Everything here is offline and CPU-only; torch, tokenizers and transformers are imported inside functions.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# ChatML, the template most small instruct models use; `add_generation_prompt` opens the assistant turn
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Qwen2's pre-tokenizer split: the tokenizer class the runtimes (transformers, mlx-lm, ORT GenAI) all know
SPLIT_RE = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
SYSTEM_PROMPTS = (
    "You are edgeprompt, a helpful assistant that runs offline on this computer. Answer clearly and concisely.",
    "You are a helpful assistant.",
)


@dataclass(frozen=True)
class DemoSpec:
    """Sizes of the demo model and of its training run."""

    vocab_size: int = 2048
    hidden: int = 192
    layers: int = 4
    heads: int = 6
    kv_heads: int = 2
    intermediate: int = 512
    context_length: int = 2048
    seq_len: int = 128
    batch: int = 8
    steps: int = 200
    lr: float = 3e-3
    max_train_s: float = 90.0  # stop training early on a slow or busy machine; the build must stay short
    seed: int = 0


DEMO = DemoSpec()
# the test fixture's model: same code path, sizes chosen to build in seconds
TINY = DemoSpec(
    vocab_size=512,
    hidden=64,
    layers=2,
    heads=4,
    kv_heads=2,
    intermediate=128,
    seq_len=64,
    batch=8,
    steps=60,
    lr=1e-2,
    max_train_s=120.0,
)


def corpus_exchanges(text: str | None = None) -> list[tuple[str, str]]:
    """(user, assistant) pairs from the bundled text: Q/A blocks as they are, paragraphs split after
    their first sentence (so the model also learns to continue prose)."""
    if text is None:
        text = resources.files("edgeprompt.shipped").joinpath("demo_corpus.txt").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    pairs = []
    for block in "\n".join(lines).split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if block.startswith("Q:") and "\nA:" in block:
            q, a = block[2:].split("\nA:", 1)
            pairs.append((q.strip(), a.strip()))
        else:
            first, _, rest = block.partition(". ")
            pairs.append((first.strip() + ".", rest.strip() or first.strip()))
    return pairs


def render(user: str, answer: str, system: str | None) -> tuple[str, str]:
    """(prompt, answer) text in the chat template; training learns only the answer part."""
    turns = ([("system", system)] if system else []) + [("user", user)]
    prompt = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in turns)
    return prompt + "<|im_start|>assistant\n", f"{answer}<|im_end|>\n"


def train_tokenizer(texts: list[str], spec: DemoSpec, out: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_RE), "isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.save(str(out / "tokenizer.json"))
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "model_max_length": spec.context_length,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "split_special_tokens": False,
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(i): {
                "content": s,
                "special": True,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "single_word": False,
            }
            for i, s in enumerate(SPECIAL)
        },
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, indent=2), encoding="utf-8"
    )


def _token_stream(
    tok: Any, examples: list[tuple[str, str]], spec: DemoSpec, rng: random.Random
) -> tuple[list[int], list[bool]]:
    """All examples, shuffled and concatenated, with a flag on the tokens the loss counts (the answers)."""
    order = list(examples)
    rng.shuffle(order)
    ids: list[int] = []
    learn: list[bool] = []
    for prompt, answer in order:
        p, a = tok.encode(prompt).ids, tok.encode(answer).ids
        ids += p + a
        learn += [False] * len(p) + [True] * len(a)
    while len(ids) < 4 * (spec.seq_len + 1):
        ids, learn = ids + ids, learn + learn
    return ids, learn


def _train_threads(wanted: int) -> int:
    """One thread when other work already fills the cores: OpenMP workers that wait on each other at every
    barrier while descheduled made steps 2-3x slower than one thread on a busy 2-core machine (measured)."""
    cores = os.cpu_count() or 1
    wanted = wanted if wanted > 0 else cores
    return 1 if os.getloadavg()[0] >= cores else wanted


def train_model(
    examples: list[tuple[str, str]],
    spec: DemoSpec,
    out: Path,
    progress: Callable[[str], None] | None = None,
    threads: int = 0,
) -> dict[str, float]:
    """Train a Llama model on (prompt, answer) chats with the tokenizer in `out`; save it there."""
    import torch
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress is ours to report, on the caller's terms

    torch.set_num_threads(_train_threads(threads))
    torch.manual_seed(spec.seed)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    eos = tok.token_to_id("<|im_end|>")
    # rope_theta and torch_dtype are the names transformers 4.x takes; 5.x still reads them through **kwargs,
    # which its dataclass signature does not show
    config = LlamaConfig(  # type: ignore[call-arg]
        vocab_size=vocab,
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.context_length,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tok.token_to_id("<|endoftext|>"),
        eos_token_id=eos,
        pad_token_id=tok.token_to_id("<|endoftext|>"),
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    rng = random.Random(spec.seed)
    ids, learn = _token_stream(tok, examples, spec, rng)
    ids_t, learn_t = torch.tensor(ids), torch.tensor(learn)
    offsets = torch.arange(spec.seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.0, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=spec.steps, pct_start=0.1)
    model.train()
    t0, loss_value, step, shown = time.perf_counter(), float("nan"), 0, 0.0
    while step < spec.steps:
        step += 1
        starts = torch.tensor([rng.randrange(0, len(ids) - spec.seq_len) for _ in range(spec.batch)])
        window = starts[:, None] + offsets
        x = ids_t[window]
        labels = torch.where(learn_t[window], x, torch.full_like(x, -100))
        loss = model(input_ids=x, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        elapsed = time.perf_counter() - t0
        if progress and elapsed - shown >= 10:
            shown = elapsed
            progress(f"  training step {step}/{spec.steps}, loss {loss_value:.2f}, {elapsed:.0f}s")
        if elapsed > spec.max_train_s:
            break
    model.eval()
    model.generation_config.eos_token_id = eos
    model.save_pretrained(str(out), safe_serialization=True)
    return {
        "steps": step,
        "loss": round(loss_value, 3),
        "train_s": round(time.perf_counter() - t0, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def build_hf(
    out: Path, spec: DemoSpec = DEMO, progress: Callable[[str], None] | None = None, threads: int = 0
) -> dict[str, float]:
    """Tokenizer + trained weights + config in Hugging Face format, into the (existing, empty) `out`."""
    rng = random.Random(spec.seed)
    examples = []
    for user, answer in corpus_exchanges():
        examples.append(render(user, answer, None))
        examples.append(render(user, answer, rng.choice(SYSTEM_PROMPTS)))
    train_tokenizer([p + a for p, a in examples], spec, out)
    return train_model(examples, spec, out, progress, threads)
