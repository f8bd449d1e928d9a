"""Hugging Face folders of real architectures (Qwen2.5, Llama 3.2, SmolLM2, Phi-3.5, Gemma 3) at tiny sizes:
each family's own config keys and classes, random weights, and a small BPE tokenizer with a ChatML template.
They write gibberish, which is all a download and loading test needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SMALL = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}
ARCHS: dict[str, dict[str, Any]] = {
    "qwen2.5": {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "num_key_value_heads": 2,
        "rope_theta": 1000000.0,
        "use_sliding_window": False,
        "rms_norm_eps": 1e-6,
    },
    "llama3.2": {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rope_theta": 500000.0,
        "rope_scaling": {
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 1024,
            "rope_type": "llama3",
        },
    },
    "smollm2": {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "num_key_value_heads": 2,
        "rope_theta": 130000.0,
    },
    "phi3.5": {
        "model_type": "phi3",
        "architectures": ["Phi3ForCausalLM"],
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
        "rope_theta": 10000.0,
    },
    "gemma3": {
        "model_type": "gemma3_text",
        "architectures": ["Gemma3ForCausalLM"],
        "num_key_value_heads": 2,
        "head_dim": 16,
        "query_pre_attn_scalar": 16,
        "sliding_window": 32,
    },
}


def tokenizer(out: Path) -> int:
    """A 512-token byte-level BPE with a ChatML template, written into `out`; returns its size."""
    from tokenizers import Tokenizer

    from edgeprompt.catalog.demo_train import TINY, corpus_exchanges, train_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    train_tokenizer([q + " " + a for q, a in corpus_exchanges()], TINY, out)
    return Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size()


def config(arch: str, vocab: int = 512) -> Any:
    """The family's own config class (transformers checks the keys) at tiny sizes."""
    from transformers import AutoConfig

    raw = {**SMALL, **ARCHS[arch], "vocab_size": vocab, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 0}
    return AutoConfig.for_model(**raw)


def hf_folder(arch: str, out: Path, seed: int = 0) -> Path:
    """A safetensors folder of `arch` with random weights."""
    import torch
    from transformers import AutoModelForCausalLM

    config_ = config(arch, tokenizer(out))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config_)
    model.save_pretrained(out, safe_serialization=True)
    return out
