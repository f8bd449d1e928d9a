"""A GGUF file as llama.cpp's converter writes one, from a tiny Hugging Face Llama folder: llama architecture
metadata, the tensors under llama.cpp's names (q/k rows permuted the way llama.cpp does), large matrices in
Q8_0, and the BPE tokenizer with its merges and chat template ("gpt2" tokenizer model, as Llama 3 files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    # llama.cpp stores q/k with rotary pairs interleaved; transformers undoes this when it reads the file
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _gguf_name(name: str) -> str:
    if name in NAMES:
        return NAMES[name]
    _, _, layer, rest = name.split(".", 3)
    return f"blk.{layer}.{LAYER[rest.removesuffix('.weight')]}.weight"


def write(hf: Path, out: Path) -> Path:
    import gguf
    from safetensors.numpy import load_file

    cfg = json.loads((hf / "config.json").read_text())
    tok = json.loads((hf / "tokenizer.json").read_text())
    tok_cfg = json.loads((hf / "tokenizer_config.json").read_text())
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    rope = cfg.get("rope_parameters") or cfg  # transformers 5 keeps rope_theta inside rope_parameters
    w.add_rope_freq_base(float(rope.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)

    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    added = {t["id"]: t["content"] for t in tok.get("added_tokens", [])}
    tokens = [added.get(i, piece) for piece, i in vocab]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i in added else gguf.TokenType.NORMAL for i in range(len(tokens))])
    merges = tok["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_eos_token_id(tokens.index(tok_cfg["eos_token"]))
    w.add_pad_token_id(tokens.index(tok_cfg["pad_token"]))
    w.add_add_bos_token(False)
    w.add_chat_template(tok_cfg["chat_template"])

    weights = load_file(str(hf / "model.safetensors"))
    if "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    for name, value in sorted(weights.items()):
        arr = value.astype(np.float32)
        if name.endswith("q_proj.weight"):
            arr = _permute(arr, cfg["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            arr = _permute(arr, cfg["num_key_value_heads"])
        if arr.ndim == 2 and arr.shape[1] % 32 == 0:
            q = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(_gguf_name(name), q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(_gguf_name(name), arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out
