"""Vision models by name: torchvision classification models, ``timm:NAME``, ``file.py:factory``.

Every resolver takes ``weights``: ``none`` (probe at initialisation, the default), ``imagenet``
(the library's pretrained weights; needs a download or a filled cache) or a path to a state dict.
Models built here carry ``model.reprobe_input = {"channels", "size", "mean", "std"}``, the input
they expect; the runner adapts image data to it (see :func:`reprobe.data.images.adapt_bundle`).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import socket
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..core.errors import ReprobeError, close_matches, param, unknown_name_message
from .registry import MODELS, register_resolver

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS_HELP = "none (initialisation), imagenet (pretrained), or a path to a state dict (.pt/.pth)"


def _size2(size: Any) -> Optional[Tuple[int, int]]:
    if size is None:
        return None
    if isinstance(size, (int, float)):
        return (int(size), int(size))
    s = tuple(int(v) for v in size)
    return (s[-2], s[-1]) if len(s) >= 2 else (s[0], s[0])


def _weights_kind(weights: Any) -> str:
    if weights in (None, "", "none", "None", False):
        return "none"
    if str(weights).lower() in ("imagenet", "default", "pretrained"):
        return "imagenet"
    return "path"


def load_weights_file(model: nn.Module, path: str) -> nn.Module:
    """Load a state dict (or a checkpoint holding ``state_dict``/``model``) into ``model``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ReprobeError(f"weights file {str(p)!r} not found; {param('weights')} takes {WEIGHTS_HELP}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ReprobeError(f"cannot read weights from {p}: {type(e).__name__}: {e}") from None
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if isinstance(state, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise ReprobeError(f"{p} does not hold a state dict (got {type(state).__name__})")
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().split("\n")
        detail = " ".join(s.strip() for s in first[:2])[:300]
        raise ReprobeError(f"weights in {p} do not fit {type(model).__name__}: {detail}") from None
    model.reprobe_weights = str(p)
    return model


def _load_or_imagenet_head(model: nn.Module, path: str, imagenet_model) -> nn.Module:
    """Load ``path`` into ``model``; if it does not fit, into the 1000-class variant."""
    try:
        return load_weights_file(model, path)
    except ReprobeError as first:
        if not Path(path).expanduser().is_file():
            raise
        try:
            return load_weights_file(imagenet_model(), path)
        except ReprobeError:
            raise first from None


class _NetTimeout:
    """Never hang on a closed network while fetching weights."""

    def __enter__(self):
        self.old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)

    def __exit__(self, *exc):
        socket.setdefaulttimeout(self.old)


def _offline_message(what: str, where: str, err: BaseException) -> str:
    return (f"cannot get imagenet weights for {what}: not in the cache and the download failed "
            f"({type(err).__name__}; offline?). Put the weights file into {where}, or pass "
            f"{param('weights', 'PATH', python='weights=PATH')} to a state dict, or {param('weights', 'none')} to probe "
            "at initialisation")


# -- torchvision ---------------------------------------------------------------------------------------
def torchvision_names() -> list:
    """Names of torchvision's classification models (``vgg16``, ``resnet18`` …)."""
    try:
        import torchvision
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return []
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _seed(seed: Optional[int]) -> None:
    if seed is not None:
        torch.manual_seed(int(seed))


#: Smallest side used for random-weight vision models (five stride-2 stages leave 1 pixel).
MIN_RANDOM_SIZE = 32


def _input_size(model: nn.Module, kind: str, input_shape: Sequence[int], image_size: Any, native: int) -> Tuple[int, int]:
    """The image size a model is probed at.

    ``--image-size`` wins. Pretrained weights (imagenet/PATH) use the weights' size. Random weights
    (``none``: trainability at initialisation) keep the data's own size (at least 32): upscaling
    28² digits to 224² would cost ~60× the compute for the same information. Models that only take
    their native size (e.g. ViTs) are detected with a one-sample forward and keep it.
    """
    given = _size2(image_size)
    if given:
        return given
    if kind != "none" or len(input_shape) != 3:
        return (native, native)
    small = _small_size(input_shape)
    if small == (native, native) or _runs_at(model, small):
        return small
    return (native, native)


def _small_size(input_shape: Sequence[int]) -> Tuple[int, int]:
    """The data's own image size, at least :data:`MIN_RANDOM_SIZE`."""
    return (max(MIN_RANDOM_SIZE, int(input_shape[1])), max(MIN_RANDOM_SIZE, int(input_shape[2])))


def _runs_at(model: nn.Module, size: Tuple[int, int]) -> bool:
    """Whether ``model`` takes (1, 3, *size) images (one forward in eval mode; mode restored)."""
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, *size))
        return True
    except Exception:
        return False
    finally:
        model.train(was_training)


@register_resolver("any torchvision classification model by name (vgg16, resnet18, resnet50, …; --weights none|imagenet|PATH)")
def torchvision_resolver(spec: str, input_shape: Sequence[int], num_classes: int, weights: Any = "none",
                         image_size: Any = None, seed: Optional[int] = 0, **_) -> Optional[nn.Module]:
    names = torchvision_names()
    if spec not in names:
        if not any(ch in spec for ch in ":/\\.") and close_matches(spec, names):
            raise ReprobeError(unknown_name_message(
                "model", spec, list(MODELS.names()) + names,
                hint="Also: timm:NAME (any timm model); path/to/file.py:factory."))
        return None
    import torchvision

    kind = _weights_kind(weights)
    w_enum = None
    try:
        w_enum = torchvision.models.get_model_weights(spec).DEFAULT
    except Exception:
        pass
    _seed(seed)
    if kind == "imagenet":
        if w_enum is None:
            raise ReprobeError(f"torchvision has no pretrained weights for {spec}; use {param('weights', 'none')} or PATH")
        try:
            with _NetTimeout():
                model = torchvision.models.get_model(spec, weights=w_enum)
        except ReprobeError:
            raise
        except Exception as e:
            where = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(w_enum.url))
            raise ReprobeError(_offline_message(spec, where, e)) from None
        model.reprobe_weights = "imagenet"
    else:
        kwargs = {"num_classes": int(num_classes)}
        if spec.startswith(("inception", "googlenet")):
            kwargs.update(aux_logits=False, init_weights=True)
        try:
            model = torchvision.models.get_model(spec, weights=None, **kwargs)
        except Exception as e:
            raise ReprobeError(f"torchvision could not build {spec}: {type(e).__name__}: {e}") from None
        if kind == "path":
            model = _load_or_imagenet_head(model, weights, lambda: torchvision.models.get_model(spec, weights=None, **{**kwargs, "num_classes": 1000}))
    mean, std, crop = IMAGENET_MEAN, IMAGENET_STD, 224
    if w_enum is not None:
        t = w_enum.transforms()
        mean, std = tuple(getattr(t, "mean", mean)), tuple(getattr(t, "std", std))
        c = getattr(t, "crop_size", None)
        crop = int(c[0]) if isinstance(c, (list, tuple)) else int(c or crop)
    model.reprobe_input = {"channels": 3, "size": list(_input_size(model, kind, input_shape, image_size, crop)),
                           "mean": list(mean), "std": list(std)}
    model.reprobe_family = "torchvision"
    return model


# -- timm ---------------------------------------------------------------------------------------------
@register_resolver("timm:NAME (any timm model, e.g. timm:resnet18, timm:vgg11; --weights none|imagenet|PATH)")
def timm_resolver(spec: str, input_shape: Sequence[int], num_classes: int, weights: Any = "none",
                  image_size: Any = None, seed: Optional[int] = 0, **_) -> Optional[nn.Module]:
    if not spec.startswith("timm:"):
        return None
    name = spec[5:]
    try:
        import timm
    except ImportError:
        raise ReprobeError("timm models need timm: pip install timm") from None
    known = timm.list_models()
    if name not in known and name.split(".")[0] not in known:
        raise ReprobeError(unknown_name_message("timm model", name, known, hint="(`timm.list_models()` lists them)"))
    kind = _weights_kind(weights)
    _seed(seed)
    try:
        if kind == "imagenet":
            with _NetTimeout():
                model = timm.create_model(name, pretrained=True)
            model.reprobe_weights = "imagenet"
        else:
            model = timm.create_model(name, pretrained=False, num_classes=int(num_classes))
            model = _timm_at_size(timm, name, model, int(num_classes), input_shape, image_size)
    except ReprobeError:
        raise
    except Exception as e:
        if kind == "imagenet":
            where = os.environ.get("HF_HOME", "~/.cache/huggingface") + " (the Hugging Face hub cache)"
            raise ReprobeError(_offline_message(spec, where, e)) from None
        raise ReprobeError(f"timm could not build {name}: {type(e).__name__}: {e}") from None
    if kind == "path":
        model = _load_or_imagenet_head(model, weights, lambda: timm.create_model(name, pretrained=False))
    try:
        cfg = timm.data.resolve_data_config({}, model=model)
    except Exception:
        cfg = {"input_size": (3, 224, 224), "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    size = _input_size(model, kind, input_shape, image_size, int(cfg["input_size"][-1]))
    model.reprobe_input = {"channels": int(cfg["input_size"][0]), "size": list(size),
                           "mean": list(cfg["mean"]), "std": list(cfg["std"])}
    model.reprobe_family = "timm"
    return model


def _timm_at_size(timm, name: str, model: nn.Module, num_classes: int, input_shape: Sequence[int],
                  image_size: Any) -> nn.Module:
    """A random-weight model that only takes one size (a ViT) rebuilt for the probed size through
    timm's ``img_size``, so that it need not see 28² digits upscaled to 224²."""
    if len(input_shape) != 3:
        return model
    size = _size2(image_size) or _small_size(input_shape)
    if _runs_at(model, size):
        return model
    try:
        resized = timm.create_model(name, pretrained=False, num_classes=num_classes, img_size=size)
    except Exception:  # the model has no img_size: it keeps its native size
        return model
    return resized if _runs_at(resized, size) else model


# -- a user's file ------------------------------------------------------------------------------------
@register_resolver("path/to/file.py:factory (factory(input_shape=…, num_classes=…) returns an nn.Module)")
def file_resolver(spec: str, input_shape: Sequence[int], num_classes: int, weights: Any = "none",
                  **options) -> Optional[nn.Module]:
    if ".py:" not in spec:
        return None
    path, _, factory = spec.rpartition(":")
    p = Path(path).expanduser()
    if not p.is_file():
        raise ReprobeError(f"model file {path!r} not found (the form is path/to/file.py:factory)")
    try:
        mod_spec = importlib.util.spec_from_file_location(f"reprobe_user_{p.stem}", p)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as e:
        raise ReprobeError(f"importing {path} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, factory, None)
    if fn is None or not callable(fn):
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise ReprobeError(unknown_name_message("factory", factory, names, where=str(path)))
    offered = {"input_shape": tuple(input_shape), "num_classes": num_classes, **options}
    try:
        params = inspect.signature(fn).parameters
        if any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params.values()):
            kwargs = offered
        else:
            kwargs = {k: v for k, v in offered.items() if k in params}
    except (TypeError, ValueError):
        kwargs = {}
    try:
        model = fn(**kwargs)
    except ReprobeError:
        raise
    except Exception as e:
        raise ReprobeError(f"{spec} raised {type(e).__name__}: {e}".replace("\n", " ")) from None
    if not isinstance(model, nn.Module):
        raise ReprobeError(f"{spec} returned {type(model).__name__}, not an nn.Module")
    kind = _weights_kind(weights)
    if kind == "imagenet":
        raise ReprobeError(f"{spec} has no imagenet weights; use {param('weights', 'PATH', python='weights=PATH')} (a state dict) or none")
    if kind == "path":
        load_weights_file(model, weights)
    model.reprobe_family = "file"
    return model
