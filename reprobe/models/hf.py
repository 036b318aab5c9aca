"""Hugging Face transformers by name, at random weights, offline: ``hf:NAME[:key=value,…]``.

``NAME`` is a checkpoint name whose architecture this module knows (:data:`CHECKPOINTS`: ``gpt2``,
``bert-base-uncased``, ``vit-base-patch16-224`` …) or any ``model_type`` of transformers
(``llama``, ``roberta`` …, with that config class's defaults). The model is built from
transformers' own config class (``GPT2Config()`` …) by ``AutoModel.from_config``: random
initialisation, no download. ``key=value`` pairs override config fields, for small sizes:
``hf:gpt2:n_layer=4,n_embd=128``. Pretrained weights would need the Hugging Face hub: they are
refused with one line (load such a model yourself and give it to :class:`reprobe.CascadeProbe`).

Text models carry ``reprobe_input = {"tokens": {"vocab", "length"}}`` (the runner feeds them token
ids, see :func:`reprobe.data.tokens.adapt_tokens`); image models the usual channels/size/mean/std.
Needs the optional extra: ``pip install "reprobe[hf]"``.
"""

from __future__ import annotations

import ast
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..core.errors import ReprobeError, close_matches, param, unknown_name_message
from .registry import register_resolver

#: Checkpoint names → (model_type, config fields that differ from that config class's defaults).
CHECKPOINTS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "gpt2": ("gpt2", {}),
    "distilgpt2": ("gpt2", {"n_layer": 6}),
    "gpt2-medium": ("gpt2", {"n_layer": 24, "n_embd": 1024, "n_head": 16}),
    "bert-base-uncased": ("bert", {}),
    "bert-base-cased": ("bert", {"vocab_size": 28996}),
    "bert-large-uncased": ("bert", {"num_hidden_layers": 24, "hidden_size": 1024, "num_attention_heads": 16,
                                    "intermediate_size": 4096}),
    "vit-base-patch16-224": ("vit", {}),
}
#: Token sequences fed to text models are this long (or the model's maximum, if shorter).
DEFAULT_TOKENS = 128


def parse_overrides(text: str) -> Dict[str, Any]:
    """``"n_layer=4,n_embd=128"`` → ``{"n_layer": 4, "n_embd": 128}`` (Python literals, else strings)."""
    out: Dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ReprobeError(f"hf: config overrides are key=value pairs separated by commas "
                               f"(hf:gpt2:n_layer=4,n_embd=128), got {part!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ReprobeError('hf: models need the transformers package: pip install "reprobe[hf]"') from None
    return transformers


def hf_config(name: str, overrides: Dict[str, Any]):
    """The config of ``hf:NAME`` with ``overrides`` applied (unknown fields are an error)."""
    transformers = _transformers()
    types = sorted(transformers.CONFIG_MAPPING.keys())
    if name in CHECKPOINTS:
        model_type, fields = CHECKPOINTS[name]
    elif name in types:
        model_type, fields = name, {}
    else:
        hub = " (hub names would need a download, which reprobe does not do)" if "/" in name else ""
        raise ReprobeError(unknown_name_message(
            "hf model", name, sorted(set(CHECKPOINTS) | set(types)),
            hint=f"hf: builds models from transformers' config classes at random weights, offline{hub}."))
    config = transformers.AutoConfig.for_model(model_type, **fields)
    for key, value in overrides.items():
        if not hasattr(config, key):
            close = close_matches(key, [k for k in config.to_dict() if not k.startswith("_")])
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ReprobeError(f"{type(config).__name__} has no field {key!r}{hint}")
        setattr(config, key, value)
    return config


@register_resolver("hf:NAME[:key=value,…] (Hugging Face transformers at random weights, offline: hf:gpt2, "
                   "hf:bert-base-uncased, hf:vit-base-patch16-224, any model type; hf:gpt2:n_layer=4,n_embd=128)")
def hf_resolver(spec: str, input_shape: Sequence[int], num_classes: int, weights: Any = "none",
                seed: Optional[int] = 0, **_) -> Optional[nn.Module]:
    if not spec.startswith("hf:"):
        return None
    name, _, options = spec[3:].partition(":")
    if weights not in (None, "", "none", "None", False):
        raise ReprobeError(f"hf: models are built at random initialisation; pretrained weights would need a download "
                           f"from the Hugging Face hub: use {param('weights', 'none')}, or load the model yourself "
                           "and give it to CascadeProbe")
    config = hf_config(name, parse_overrides(options))
    if seed is not None:
        torch.manual_seed(int(seed))
    try:
        model = _transformers().AutoModel.from_config(config)
    except Exception as e:  # a config the architecture rejects (n_embd not divisible by n_head …)
        raise ReprobeError(f"transformers could not build {spec}: {type(e).__name__}: {' '.join(str(e).split())[:300]}") from None
    model.reprobe_input = _input_of(config)
    model.reprobe_family = "hf"
    return model


def _input_of(config) -> Dict[str, Any]:
    """What the model reads: token ids (vocabulary, sequence length) or images."""
    image_size = getattr(config, "image_size", None)
    if image_size is not None and getattr(config, "num_channels", None):
        size = [image_size, image_size] if isinstance(image_size, int) else list(image_size)
        channels = int(config.num_channels)
        return {"channels": channels, "size": size, "mean": [0.5] * channels, "std": [0.5] * channels}
    longest = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    length = min(DEFAULT_TOKENS, int(longest)) if longest else DEFAULT_TOKENS
    return {"tokens": {"vocab": int(config.vocab_size), "length": length}}
