"""Image data for CNNs: folders of images (lazy), Imagenette, and adapting any data to a model.

* ``imagenet-subset``: an ImageFolder (one subfolder per class) at ``<data-root>/imagenet-subset``
  (``--data-root`` or ``$REPROBE_DATA``); with ``train/`` and ``val/`` subfolders those are the
  splits, otherwise a seeded random split.
* any folder path given as ``--data PATH`` (a fallback loader), same layout.
* ``imagenette``: torchvision's Imagenette (160px) in the cache folder (download when online).
* ``subset=N`` draws a seeded random subsample of N images.

:func:`adapt_bundle` is the one place where data meets a model's input: grey→RGB, resize, and
mean/std normalisation, applied lazily per item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from ..core.errors import ReprobeError, param
from .registry import DatasetBundle, open_or_download, register_dataset, register_fallback

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_SIZE = 224
BUNDLED_HINT = ("bundled data that works offline: "
                + ", ".join(param("data", n) for n in ("mnist-5k", "digits", "photos")) + " or " + param("data", "noise"))


# -- adapting data to a model --------------------------------------------------------------------------
class TransformedDataset(Dataset):
    """Applies ``fn`` to the x of every ``(x, y)`` item, lazily."""

    def __init__(self, base: Dataset, fn):
        self.base, self.fn = base, fn

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i):
        item = self.base[i]
        if isinstance(item, (tuple, list)):
            return (self.fn(item[0]), *item[1:])
        return self.fn(item)


def image_transform(in_shape: Sequence[int], channels: Optional[int] = None, size: Optional[Sequence[int]] = None,
                    mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
    """A function (C, H, W) → (channels, *size), normalised by mean/std, for one image tensor."""
    c_in = int(in_shape[0])
    c_out = int(channels or c_in)
    if c_in != c_out and not (c_in == 1 or c_out == 1):
        raise ReprobeError(f"cannot turn {c_in}-channel data into {c_out} channels")
    size_t = tuple(int(s) for s in size) if size is not None else tuple(int(s) for s in in_shape[1:])
    m = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1) if mean is not None else None
    s = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1) if std is not None else None

    def fn(x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if x.shape[0] != c_out:
            x = x.expand(c_out, *x.shape[1:]) if x.shape[0] == 1 else x.mean(0, keepdim=True)
        if tuple(x.shape[1:]) != size_t:
            x = F.interpolate(x.unsqueeze(0), size=size_t, mode="bilinear", align_corners=False, antialias=True)[0]
        if m is not None:
            x = (x - m) / s
        return x.contiguous()

    return fn


def adapt_bundle(bundle: DatasetBundle, channels: Optional[int] = None, size: Optional[Sequence[int]] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                 allow: bool = True) -> DatasetBundle:
    """Make ``bundle``'s images fit a model: channels (grey↔RGB), size, mean/std normalisation.

    Returns the bundle itself when nothing changes. ``allow=False`` turns a needed channel or size
    change into an error (normalisation is always applied).
    """
    shape = tuple(bundle.input_shape)
    if len(shape) != 3:
        raise ReprobeError(f"this model needs images (C, H, W); dataset {bundle.name!r} has inputs of shape {shape}")
    size_t = tuple(int(s) for s in size) if size is not None else shape[1:]
    c_out = int(channels or shape[0])
    if mean is not None and len(mean) != c_out:
        mean = [float(sum(mean)) / len(mean)] * c_out
        std = [float(sum(std)) / len(std)] * c_out if std is not None else None
    change = (c_out != shape[0]) or (tuple(size_t) != tuple(shape[1:]))
    if change and not allow:
        raise ReprobeError(
            f"the model expects {c_out}x{size_t[0]}x{size_t[1]} images, dataset {bundle.name!r} has "
            f"{'x'.join(map(str, shape))}; allow adaptation (drop {param('no_adapt', python='adapt_data=False')}) or give matching data")
    if not change and mean is None:
        return bundle
    fn = image_transform(shape, c_out, size_t, mean, std)
    lo, hi = bundle.value_range
    if mean is not None:
        lo = min((lo - m) / s for m, s in zip(mean, std or [1.0] * len(mean)))
        hi = max((hi - m) / s for m, s in zip(mean, std or [1.0] * len(mean)))
    info = dict(bundle.info)
    if change:
        info["notes"] = list(info.get("notes", [])) + [adaptation_note(bundle.name, shape, (c_out, *size_t))]
    info["transform"] = {"from_shape": list(shape), "channels": c_out, "size": list(size_t),
                         "mean": list(mean) if mean is not None else None,
                         "std": list(std) if std is not None else None}
    return DatasetBundle(bundle.name, TransformedDataset(bundle.train, fn), TransformedDataset(bundle.test, fn),
                         (c_out, *size_t), bundle.num_classes, (float(lo), float(hi)), bundle.classes, info)


def adaptation_note(name: str, shape: Sequence[int], new_shape: Sequence[int]) -> str:
    """One line saying how :func:`adapt_bundle` changed a dataset's images to fit the model."""
    how = []
    if shape[0] != new_shape[0]:
        how.append(f"{'grey' if shape[0] == 1 else f'{shape[0]}-channel'} → "
                   f"{'RGB' if new_shape[0] == 3 else f'{new_shape[0]}-channel'}")
    if tuple(shape[1:]) != tuple(new_shape[1:]):
        how.append(f"resized {shape[1]}×{shape[2]} → {new_shape[1]}×{new_shape[2]}")
    return f"images of {name!r} were adapted to the model's input {'×'.join(map(str, new_shape))}: {', '.join(how)}"


def load_image(path, shape: Sequence[int], transform: Optional[Dict[str, Any]] = None) -> torch.Tensor:
    """One image file as the model saw its data: (C, H, W) resized, normalised as in ``transform``.

    The file is read as the run's data was (:class:`ImageFiles`: short side resized, centre crop to
    the data's own shape ``transform["from_shape"]``), then adapted by the run's
    :func:`image_transform` (channels, size, mean/std).
    """
    t = transform or {}
    from_shape = tuple(int(v) for v in (t.get("from_shape") or shape))
    x = read_image(path, (from_shape[1], from_shape[2]), from_shape[0])
    if t:
        x = image_transform(from_shape, t.get("channels"), t.get("size"), t.get("mean"), t.get("std"))(x)
    return x.contiguous()


def denormalise(x: torch.Tensor, transform: Optional[Dict[str, Any]] = None, clamp: bool = True) -> torch.Tensor:
    """Undo :func:`adapt_bundle`'s normalisation (for pictures), clamped to [0, 1] unless ``clamp`` is False."""
    t = transform or {}
    if t.get("mean") is not None:
        m = torch.tensor(t["mean"], dtype=x.dtype).view(-1, 1, 1)
        s = torch.tensor(t["std"], dtype=x.dtype).view(-1, 1, 1)
        x = x * s + m
    return x.clamp(0, 1) if clamp else x


# -- image folders ------------------------------------------------------------------------------------
class ImageFiles(Dataset):
    """(path, label) list read lazily: resize the short side, centre-crop to ``size``, [0, 1] tensor."""

    def __init__(self, samples: Sequence[Tuple[str, int]], size: Tuple[int, int], channels: int = 3):
        self.samples = list(samples)
        self.size = size
        self.channels = channels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        return read_image(path, self.size, self.channels), label


def read_image(path, size: Tuple[int, int], channels: int = 3) -> torch.Tensor:
    """One image file as a [0, 1] tensor (channels, *size): short side resized, centre crop."""
    import numpy as np
    from PIL import Image
    from torchvision.transforms import functional as TF

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode.startswith("I;16"):  # 16-bit grey: PIL's convert would clip it to white
                img = Image.fromarray((np.asarray(img, dtype=np.float32) / 257.0).round().astype(np.uint8))
            img = img.convert("RGB" if channels == 3 else "L")
    except Exception as e:
        raise ReprobeError(f"cannot read image {path}: {type(e).__name__}: {e}".replace("\n", " ")) from None
    short = int(round(min(size) * 256 / 224)) if min(size) >= 64 else min(size)
    img = TF.resize(img, short, antialias=True)
    img = TF.center_crop(img, list(size))
    return TF.to_tensor(img)


def check_images_readable(paths: Sequence[str]) -> List[Tuple[int, int]]:
    """Open every image's header (and check PNG chunks) now: images load lazily, and a bad file
    found mid-fit would throw the work so far away. Raises on the first bad file, naming it.

    Returns:
        every image's (height, width), from its header.
    """
    from PIL import Image

    sizes = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img.verify()
                sizes.append((int(img.size[1]), int(img.size[0])))
        except Exception as e:
            raise ReprobeError(f"cannot read image {path}: {type(e).__name__}: {e}; remove or replace the file"
                               .replace("\n", " ")) from None
    return sizes


def resize_note(folder: Path, sizes: Sequence[Tuple[int, int]], size: Tuple[int, int], asked: bool) -> Optional[str]:
    """One line when a folder's images are read at another size than their own (None when all match)."""
    found = sorted(set(sizes))
    if not found or found == [tuple(size)]:
        return None
    own = f"{found[0][0]}×{found[0][1]}" if len(found) == 1 else (
        f"of {len(found)} sizes ({found[0][0]}×{found[0][1]} … {found[-1][0]}×{found[-1][1]})")
    keep = "" if asked or len(found) > 1 else f"; set image_size={found[0][0]} to keep their size"
    return (f"images in {str(folder)!r} are {own} and are read at {size[0]}×{size[1]} "
            f"({'image_size' if asked else 'the folder default'}; short side resized, centre crop){keep}")


def _scan(folder: Path) -> Tuple[list, list]:
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    samples = []
    for k, c in enumerate(classes):
        for p in sorted((folder / c).rglob("*")):
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith("."):
                samples.append((str(p), k))
    return classes, samples


def folder_bundle(path, name: Optional[str] = None, seed: int = 0, test_fraction: float = 0.1,
                  image_size: Any = None, subset: Optional[int] = None, **_) -> DatasetBundle:
    """An ImageFolder (class subfolders; optional train/ and val/ splits), loaded lazily."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ReprobeError(f"image folder {str(folder)!r} not found; {BUNDLED_HINT}")
    size = image_size if image_size is not None else DEFAULT_FOLDER_SIZE
    size_t = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)[-2:]
    if subset is not None and int(subset) < 4:
        raise ReprobeError(f"{param('subset')} needs at least 4 images (2 held out), got {subset}")
    splits = [d for d in ("train", "val") if (folder / d).is_dir()]
    subset_note = None
    if splits == ["train", "val"]:
        classes, train_s = _scan(folder / "train")
        val_classes, test_s = _scan(folder / "val")
        if val_classes != classes:
            raise ReprobeError(f"{folder}/train and {folder}/val have different class folders")
    else:  # a lone train/ holds the classes (split at random), as does a folder without splits
        classes, samples = _scan(folder / "train" if splits == ["train"] else folder)
        if len(samples) >= 4:
            g = torch.Generator().manual_seed(seed)
            perm = torch.randperm(len(samples), generator=g).tolist()
            if subset is not None:
                subset_note = subset_cut_note(int(subset), len(perm))
                perm = perm[: int(subset)]
                subset = None
            n_test = max(2, int(round(len(perm) * test_fraction)))
            test_s = [samples[i] for i in perm[:n_test]]
            train_s = [samples[i] for i in perm[n_test:]]
        else:
            train_s, test_s = samples, []
    if not train_s and not test_s:
        raise ReprobeError(f"image folder {str(folder)!r} has no images: put them into one subfolder per class "
                           f"({', '.join(IMAGE_EXTENSIONS[:4])} …); {BUNDLED_HINT}")
    if len(train_s) + len(test_s) < 4 or not train_s or len(test_s) < 2:
        raise ReprobeError(f"image folder {str(folder)!r} has too few images ({len(train_s) + len(test_s)}); "
                           "the probe needs at least 4 (2 held out)")
    if subset is not None:
        subset_note = subset_cut_note(int(subset), len(train_s) + len(test_s))
        g = torch.Generator().manual_seed(seed)
        n_test = max(2, int(round(int(subset) * test_fraction)))
        train_s = [train_s[i] for i in torch.randperm(len(train_s), generator=g)[: max(1, int(subset) - n_test)].tolist()]
        test_s = [test_s[i] for i in torch.randperm(len(test_s), generator=g)[:n_test].tolist()]
    sizes = check_images_readable([p for p, _ in train_s + test_s])
    notes = [n for n in (resize_note(folder, sizes, size_t, image_size is not None), subset_note) if n]
    train, test = ImageFiles(train_s, size_t), ImageFiles(test_s, size_t)
    return DatasetBundle(name or str(folder), train, test, (3, *size_t), len(classes), (0.0, 1.0), classes,
                         {"folder": str(folder), **({"notes": notes} if notes else {})})


@register_dataset("imagenet-subset", help="an ImageFolder at <data-root>/imagenet-subset (class subfolders; lazy)")
def imagenet_subset(root: Path, seed: int = 0, test_fraction: float = 0.1, **options) -> DatasetBundle:
    folder = Path(root) / "imagenet-subset"
    if not folder.is_dir():
        raise ReprobeError(
            f"imagenet-subset not found: put an ImageFolder (one subfolder per class, or train/ and val/) at "
            f"{folder} (set {param('root')} or $REPROBE_DATA), or pass {param('data', 'PATH', python='data=PATH')} to any "
            f"image folder; {BUNDLED_HINT}")
    return folder_bundle(folder, "imagenet-subset", seed, test_fraction, **options)


@register_fallback("a folder path: an ImageFolder (one subfolder per class)")
def _folder_fallback(name: str, root: Path, seed: int = 0, test_fraction: float = 0.1, **options) -> Optional[DatasetBundle]:
    p = Path(name).expanduser()
    if p.is_dir():
        return folder_bundle(p, str(p), seed, test_fraction, **options)
    if any(sep in name for sep in ("/", "\\")):
        raise ReprobeError(f"data folder {name!r} not found; give an ImageFolder path or a dataset name; {BUNDLED_HINT}")
    return None


@register_dataset("imagenette", help="torchvision Imagenette (10 ImageNet classes, 160px) in the cache folder (download needs internet)")
def imagenette(root: Path, seed: int = 0, test_fraction: float = 0.1, image_size: Any = None,
               subset: Optional[int] = None, download: bool = True, **_) -> DatasetBundle:
    import torchvision

    size = int(image_size) if isinstance(image_size, (int, float)) else (int(image_size[-1]) if image_size else 160)

    def split(name: str):
        return open_or_download(
            lambda dl: torchvision.datasets.Imagenette(str(root), split=name, size="160px", download=dl), download
        )

    try:
        tr, te = split("train"), split("val")
    except Exception as e:
        raise ReprobeError(
            f"cannot load imagenette: not found in {root / 'imagenette2-160'} and the download failed "
            f"({type(e).__name__}; offline?). Put the extracted imagenette2-160 folder there (set {param('root')} or "
            f"$REPROBE_DATA), or use an image folder ({param('data', 'PATH', python='data=PATH')}); {BUNDLED_HINT}") from None
    train = ImageFiles(tr._samples, (size, size))
    test = ImageFiles(te._samples, (size, size))
    bundle = DatasetBundle("imagenette", train, test, (3, size, size), 10, (0.0, 1.0),
                           [c[0] if isinstance(c, tuple) else c for c in tr.classes])
    if subset is not None:
        g = torch.Generator().manual_seed(seed)
        n_test = max(2, int(round(int(subset) * test_fraction)))
        bundle.train = Subset(train, torch.randperm(len(train), generator=g)[: max(1, int(subset) - n_test)].tolist())
        bundle.test = Subset(test, torch.randperm(len(test), generator=g)[:n_test].tolist())
    return bundle


def subset_cut_note(asked: int, found: int) -> Optional[str]:
    """One line when a subset asked for more images than there are (all of them are used)."""
    if asked <= found:
        return None
    return f"subset={asked} asked for, but the data has {found} images: all {found} are used"


def subsample_bundle(bundle: DatasetBundle, n: int, seed: int = 0) -> DatasetBundle:
    """A seeded random subsample of ``n`` items in all (train + test, test keeping its share ≥ 2)."""
    if n < 4:
        raise ReprobeError(f"{param('subset')} needs at least 4 images (2 held out), got {n}")
    total = len(bundle.train) + len(bundle.test)
    if n > total:
        info = dict(bundle.info, notes=list(bundle.info.get("notes", [])) + [subset_cut_note(n, total)])
        return DatasetBundle(bundle.name, bundle.train, bundle.test, bundle.input_shape, bundle.num_classes,
                             bundle.value_range, bundle.classes, info)
    if n == total:
        return bundle
    share = len(bundle.test) / max(1, total)
    n_test = min(len(bundle.test), max(2, int(round(n * share))))
    g = torch.Generator().manual_seed(seed)
    tr = torch.randperm(len(bundle.train), generator=g)[: n - n_test].tolist()
    te = torch.randperm(len(bundle.test), generator=g)[:n_test].tolist()
    info = dict(bundle.info, subset=n)
    return DatasetBundle(bundle.name, Subset(bundle.train, tr), Subset(bundle.test, te), bundle.input_shape,
                         bundle.num_classes, bundle.value_range, bundle.classes, info)
