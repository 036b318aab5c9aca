"""The Lightning callback with the real lightning package: trains on after `trainable`, stops an
untrainable net before step 1, and leaves an un-aborted run bit-identical to one without it."""

import importlib
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

L = pytest.importorskip("lightning")

from reprobe.models import build_model  # noqa: E402

FAST = {"samples": 32, "fit_samples": 300}


@pytest.fixture(scope="module")
def digits(digits):
    """The training inputs and labels of the session's digits (tests/conftest.py)."""
    return digits[1], digits[2]


class Net(L.LightningModule):
    """A reprobe MLP on 8×8 digits that counts its training steps."""

    def __init__(self, depth, sigma_w2, width):
        super().__init__()
        self.net = build_model("mlp", (1, 8, 8), 10, depth=depth, width=width, sigma_w2=sigma_w2, sigma_b2=0.05, seed=0)
        self.steps = 0

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        self.steps += 1
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class Data(L.LightningDataModule):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def train_dataloader(self):  # shuffled from the global RNG: a check that used it up would show
        return DataLoader(TensorDataset(self.x, self.y), batch_size=32, shuffle=True)


def fit(model, callbacks, data, logger=False, steps=5):
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_steps=steps, callbacks=callbacks, logger=logger, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, datamodule=Data(*data))
    return trainer


def test_a_trainable_net_trains_on_and_the_verdict_is_logged(digits, tmp_path):
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from reprobe.integrations.lightning import TrainabilityCheck

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, check = Net(8, 1.76, 32), TrainabilityCheck(abort_on="untrainable", **FAST)
    tb, csv = TensorBoardLogger(str(tmp_path), name="tb"), CSVLogger(str(tmp_path), name="csv")
    fit(model, [check], digits, logger=[tb, csv])
    assert check.result.verdict == "trainable" and model.steps == 5
    acc = EventAccumulator(tb.log_dir)
    acc.Reload()
    assert acc.Scalars("reprobe/trainable")[0].value == 1.0 and acc.Scalars("reprobe/xi")[0].value == pytest.approx(check.result.xi)
    assert [e.step for e in acc.Scalars("reprobe/relative_entropy")] == list(range(1, 9))
    assert "reprobe/score" in (tmp_path / "csv" / "version_0" / "metrics.csv").read_text()


def test_an_untrainable_net_is_stopped_before_the_first_step(digits):
    from reprobe.integrations.lightning import TrainabilityCheck, TrainabilityCheckFailed

    model, check = Net(50, 1.0, 16), TrainabilityCheck(abort_on="untrainable", **FAST)
    with pytest.raises(TrainabilityCheckFailed, match="stopped before the first step.*untrainable at depth 50") as e:
        fit(model, [check], digits)
    assert model.steps == 0 and e.value.check.verdict == "untrainable"
    # without abort_on the same net is only reported
    model, check = Net(50, 1.0, 16), TrainabilityCheck(**FAST)
    fit(model, [check], digits, steps=1)
    assert model.steps == 1 and check.result.verdict == "untrainable"


class _UsesTheRng(L.Callback):
    """The control: a callback that draws one random number at fit start."""

    def on_fit_start(self, trainer, pl_module):
        torch.rand(1)


def test_an_unaborted_check_leaves_training_bit_identical(digits):
    from reprobe.integrations.lightning import TrainabilityCheck

    def trained(callbacks):
        model = Net(8, 1.76, 32)
        model.train()
        fit(model, callbacks, digits)
        return model

    plain = trained([])
    checked = trained([TrainabilityCheck(**FAST)])
    assert checked.training and all(p.requires_grad for p in checked.parameters())
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), checked.parameters()))
    leaky = trained([_UsesTheRng()])  # shows the comparison can fail: one draw reshuffles the batches
    assert not all(torch.equal(a, b) for a, b in zip(plain.parameters(), leaky.parameters()))


def test_a_bad_level_or_module_is_one_clear_error():
    from reprobe.core.errors import ReprobeError
    from reprobe.integrations.lightning import TrainabilityCheck

    with pytest.raises(ReprobeError, match="abort_on must be one of none, marginal, untrainable"):
        TrainabilityCheck(abort_on="trainable")
    with pytest.raises(ReprobeError, match="no submodule 'body'"):
        TrainabilityCheck(module="body")._net(Net(4, 1.0, 8))
    model = Net(4, 1.0, 8)
    assert TrainabilityCheck(module="net")._net(model) is model.net
    assert TrainabilityCheck(module=lambda m: m.net)._net(model) is model.net


def test_missing_lightning_is_one_line_naming_the_extra(monkeypatch):
    from reprobe.integrations import MissingExtra

    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.delitem(sys.modules, "reprobe.integrations.lightning", raising=False)
    with pytest.raises(ImportError) as e:
        importlib.import_module("reprobe.integrations.lightning")
    assert isinstance(e.value, MissingExtra)
    assert str(e.value) == 'the Lightning callback needs lightning: pip install "reprobe[lightning]"'
    monkeypatch.delitem(sys.modules, "reprobe.integrations.lightning", raising=False)
