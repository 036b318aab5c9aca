import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def mnist():
    from reprobe.data import load_dataset

    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8×8 digits: the bundle, and its training split as tensors (inputs, labels)."""
    from reprobe.data import load_dataset

    b = load_dataset("digits")
    x = torch.stack([b.train[i][0] for i in range(len(b.train))])
    y = torch.tensor([int(b.train[i][1]) for i in range(len(b.train))])
    return b, x, y
