"""A federated LoRA adapter, from the coordinator's signed pack to what both backends run.

The pack (kind `lm-adapter`) holds a peft adapter: `adapter_model.safetensors` + `adapter_config.json`,
and names the base model (`lm_model`) and the fingerprint of the exact weights it was trained on.
Installing it on a laptop whose model card of that id has those weights makes a derived model
`<id>-lora` in `<data home>/models/<id>-lora/`:
- `peft/`: the adapter as received;
- `mlx-adapter/`: the same adapter in mlx-lm's format (`adapters.safetensors` + `adapter_config.json`),
  which the MLX backend passes to `mlx_lm.load(path, adapter_path=…)` on top of the base model's own
  mlx folder (mlx's `lora_a`/`lora_b` are peft's A and B transposed; its `scale` is alpha / r);
- `hf/` + `onnx/`: the adapter merged into a copy of the Hugging Face weights (W + (alpha/r)·B·A) and
  that copy run through onnxruntime-genai's model builder at the base model's precision (a GenAI model
  has no separate adapter at run time, so the merged weights are the model).
and the user card `<id>-lora.toml`, so `edgeprompt ask -m <id>-lora` runs it on either backend. Everything
is built in a temporary folder and renamed into place.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import ModelLoadError, ModelNotFoundError, UsageError
from edgeprompt.federation.lora import LoraSpec, fingerprint, load_base
from edgeprompt.paths import replace_folder

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import Catalog, ModelCard
    from edgeprompt.signing import Pack

PACK_KIND = "lm-adapter"
PEFT_FILES = ("adapter_model.safetensors", "adapter_config.json")
DESCRIPTION_FILE = "adapter.json"  # in the derived folder: the pack's provenance (run, rounds, ε)
SUFFIX = "-lora"
_PEFT_KEY = re.compile(r"base_model\.model\.(.+)\.lora_([AB])\.weight")
_LAYER = re.compile(r"model\.layers\.(\d+)\.(.+)")
ONNX_BITS = {"int4": 4, "int8": 8, "fp32": None}


# -- peft files -----------------------------------------------------------------------------------------------
def peft_files(model: Any, base_name: str) -> dict[str, bytes]:
    """The adapter in peft's own format, as `PeftModel.from_pretrained` reads it (never the base weights)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        doc = json.loads((Path(tmp) / "adapter_config.json").read_text(encoding="utf-8"))
        doc["base_model_name_or_path"] = base_name  # the model id, not a path on the coordinator
        return {
            "adapter_model.safetensors": (Path(tmp) / "adapter_model.safetensors").read_bytes(),
            "adapter_config.json": json.dumps(doc, indent=2, sort_keys=True).encode(),
        }


def read_peft(files: dict[str, bytes]) -> tuple[LoraSpec, OrderedDict[str, Any]]:
    """(spec, adapter state dict) from peft files; a malformed adapter is a ModelLoadError."""
    from safetensors.torch import load

    missing = [f for f in PEFT_FILES if f not in files]
    if missing:
        raise UsageError(f"the {PACK_KIND} pack lacks {', '.join(missing)}")
    try:
        doc = json.loads(files["adapter_config.json"])
        spec = LoraSpec.from_adapter_config(doc)
        state = OrderedDict(sorted(load(files["adapter_model.safetensors"]).items()))
    except (ValueError, KeyError, TypeError) as e:
        raise ModelLoadError(f"the adapter does not load ({type(e).__name__}: {str(e)[:160]})") from e
    if not state or any(_PEFT_KEY.fullmatch(k) is None for k in state):
        raise ModelLoadError("the adapter holds tensors that are not LoRA A/B matrices")
    return spec, state


# -- mlx-lm ------------------------------------------------------------------------------------------------
def mlx_weights(state: dict[str, Any]) -> dict[str, Any]:
    """peft `base_model.model.X.lora_A.weight` [r, in] -> mlx-lm `X.lora_a` [in, r] (and B [out, r] -> [r, out])."""
    out = {}
    for key, value in state.items():
        m = _PEFT_KEY.fullmatch(key)
        if m is None:
            raise ModelLoadError(f"unexpected adapter tensor {key}")
        out[f"{m[1]}.lora_{m[2].lower()}"] = value.detach().float().T.contiguous().numpy()
    return out


def mlx_config(state: dict[str, Any], spec: LoraSpec, num_layers: int) -> dict[str, Any]:
    """mlx-lm's adapter_config.json: LoRA on `keys` (module paths inside a layer) of the last `num_layers`."""
    layers, keys = set(), set()
    for key in state:
        m = _PEFT_KEY.fullmatch(key)
        inner = _LAYER.fullmatch(m[1]) if m else None
        if inner is None:
            raise ModelLoadError(f"adapter tensor {key} is not inside a transformer layer")
        layers.add(int(inner[1]))
        keys.add(inner[2])
    if layers != set(range(num_layers)):
        raise ModelLoadError(f"the adapter covers layers {sorted(layers)} of {num_layers}; mlx-lm needs all of them")
    return {
        "fine_tune_type": "lora",
        "num_layers": num_layers,
        "lora_parameters": {"rank": spec.rank, "scale": spec.scale, "dropout": 0.0, "keys": sorted(keys)},
    }


def write_mlx_adapter(state: dict[str, Any], spec: LoraSpec, num_layers: int, out: Path) -> Path:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file(mlx_weights(state), str(out / "adapters.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps(mlx_config(state, spec, num_layers), indent=2) + "\n")
    return out


# -- merged Hugging Face weights and ONNX ----------------------------------------------------------------------
def merge_hf(base_hf: Path, files: dict[str, bytes], out: Path) -> Path:
    """W + scale·B·A into a copy of the base folder (tokenizer, template and configs copied as they are)."""
    from peft import PeftModel

    with tempfile.TemporaryDirectory() as tmp:
        for name in PEFT_FILES:
            (Path(tmp) / name).write_bytes(files[name])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # peft calls a transformers API deprecated for v6
            merged = PeftModel.from_pretrained(load_base(base_hf), tmp).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    for path in base_hf.iterdir():
        if (
            path.is_file()
            and not path.name.endswith((".safetensors", ".safetensors.index.json"))
            and not (out / path.name).exists()
        ):
            shutil.copy2(path, out / path.name)
    return out


def base_onnx_precision(card: ModelCard) -> str:
    """The base card's ONNX precision ("onnx int8" in its quantization), int4 when it does not say."""
    for part in card.quantization.split(","):
        fmt, _, prec = part.strip().partition(" ")
        if fmt == "onnx" and prec in ONNX_BITS:
            return prec
    return "int4"


def build_onnx(hf: Path, out: Path, precision: str) -> None:
    from edgeprompt.catalog.convert import onnx_job, run_jobs

    if precision not in ONNX_BITS:
        raise UsageError(f"ONNX precision must be one of {', '.join(ONNX_BITS)}")
    run_jobs([onnx_job(hf, out, ONNX_BITS[precision])])


# -- install --------------------------------------------------------------------------------------------------
def base_card(catalog: Catalog, pack: Pack) -> tuple[ModelCard, Path]:
    """The laptop's card the adapter belongs to, checked to hold the very weights it was trained on."""
    model_id = str(pack.meta.get("lm_model") or "")
    try:
        card = catalog.get(model_id)
    except ModelNotFoundError as e:
        raise UsageError(f"this adapter is for model '{model_id}', which this laptop does not have") from e
    hf = card.path_for("hf")
    if hf is None or not hf.is_dir():
        raise UsageError(f"model '{model_id}' has no Hugging Face (hf) folder here to check and merge with")
    want = str(pack.meta.get("base_fingerprint") or "")
    mine = fingerprint(hf)
    if want != mine:
        raise UsageError(
            f"this adapter was trained on other '{model_id}' weights ({want or 'unknown'}) than this laptop's ({mine})"
        )
    return card, hf


def _rel(path: Path, models: Path) -> str:
    """Card paths relative to the models folder when inside it (the data home may move), else absolute."""
    try:
        return str(path.resolve().relative_to(models.resolve()))
    except ValueError:
        return str(path.resolve())


def build_folder(pack: Pack, card: ModelCard, hf: Path, tmp: Path, precision: str | None) -> dict[str, Any]:
    """Fill `tmp` with peft/, mlx-adapter/ (if the base has an mlx folder), hf/ + onnx/ (if it has onnx)."""
    spec, state = read_peft(pack.files)
    num_layers = int(json.loads((hf / "config.json").read_text())["num_hidden_layers"])
    mlx_config(state, spec, num_layers)  # refuse before any work if mlx could not load it
    (tmp / "peft").mkdir()
    for name in PEFT_FILES:
        (tmp / "peft" / name).write_bytes(pack.files[name])
    built: dict[str, Any] = {"lora": {"rank": spec.rank, "alpha": spec.alpha, "targets": list(spec.targets)}}
    if card.path_for("mlx") is not None:
        write_mlx_adapter(state, spec, num_layers, tmp / "mlx-adapter")
        built["mlx"] = True
    if card.path_for("onnx") is not None:
        built["onnx_precision"] = precision or base_onnx_precision(card)
        build_onnx(merge_hf(hf, pack.files, tmp / "hf"), tmp / "onnx", built["onnx_precision"])
    return built


def derived_card(card: ModelCard, folder: Path, models: Path, built: dict[str, Any], pack: Pack) -> ModelCard:
    paths: dict[str, str] = {}
    if (folder / "hf").is_dir():
        paths["hf"] = _rel(folder / "hf", models)
    if built.get("mlx"):
        paths["mlx"] = _rel(card.path_for("mlx"), models)  # type: ignore[arg-type]
        paths["adapter"] = _rel(folder / "mlx-adapter", models)
    if (folder / "onnx").is_dir():
        paths["onnx"] = _rel(folder / "onnx", models)
    quant = [p for p in card.quantization.split(", ") if p and not p.startswith("onnx")]
    if "onnx_precision" in built:
        quant.append(f"onnx {built['onnx_precision']}")
    eps = pack.meta.get("epsilon_max")
    lora = built["lora"]
    return replace(
        card,
        id=f"{card.id}{SUFFIX}",
        paths=paths,
        quantization=", ".join(quant),
        origin="user",
        description=(
            f"{card.id} with a federated LoRA adapter (r={lora['rank']}, {pack.version}, "
            f"{pack.meta.get('rounds', '?')} rounds, {pack.meta.get('clients', '?')} laptops"
            + (f", ε ≤ {float(eps):.2f}" if isinstance(eps, int | float) else "")
            + ")"
        ),
        card_path="",
    )


def install(models: Path, catalog: Catalog, pack: Pack, precision: str | None = None) -> tuple[ModelCard, Path]:
    """Build `<models>/<id>-lora/` and register its card; returns (card, folder)."""
    card, hf = base_card(catalog, pack)
    folder = models / f"{card.id}{SUFFIX}"
    if catalog.has(folder.name) and not (folder / DESCRIPTION_FILE).exists():
        raise UsageError(
            f"a model '{folder.name}' that is not a federated adapter exists; remove it first "
            f"(`edgeprompt models remove {folder.name}`)"
        )
    models.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=models))
    try:
        built = build_folder(pack, card, hf, tmp, precision)
        (tmp / DESCRIPTION_FILE).write_text(
            json.dumps(
                {
                    "base": card.id,
                    "base_fingerprint": pack.meta.get("base_fingerprint"),
                    "name": pack.name,
                    "version": pack.version,
                    "key_id": pack.key_id,
                    "trained": pack.meta,
                    **built,
                },
                indent=2,
            )
            + "\n"
        )
        replace_folder(tmp, folder)  # the previous adapter stays whole until the new one is in place
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return catalog.add(derived_card(card, folder, models, built, pack), overwrite=True), folder


def installed(models: Path) -> dict[str, Any]:
    """Adapters installed on this laptop, by derived model id (for `federation status`)."""
    out: dict[str, Any] = {}
    for desc in sorted(models.glob(f"*{SUFFIX}/{DESCRIPTION_FILE}")):
        try:
            doc = json.loads(desc.read_text())
        except ValueError:
            doc = {"error": f"unreadable {DESCRIPTION_FILE}"}
        out[desc.parent.name] = {
            "installed": True,
            "base": doc.get("base"),
            "version": doc.get("version"),
            "trained": doc.get("trained"),
        }
    return out
