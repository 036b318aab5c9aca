"""Dict batches and (ids, mask) pairs reach the model with their attention mask."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from reprobe.probe import CascadeProbe


def _tiny_bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=100)
    return transformers.BertModel(config).eval()


def _padded_batch(n=8, length=10, kept=6):
    ids = torch.randint(0, 100, (n, length), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[:, kept:] = 0
    return ids, mask


def _direct_block_output(model, **inputs):
    seen = []
    handle = model.encoder.layer[1].register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        model(**inputs)
    handle.remove()
    return seen[0]


def test_dict_batches_reach_the_model_with_their_mask():
    model = _tiny_bert()
    ids, mask = _padded_batch()
    with CascadeProbe(model, progress=False, device="cpu") as probe:
        masked = probe.activations({"input_ids": ids, "attention_mask": mask, "labels": torch.zeros(8)})
        unmasked = probe.activations({"input_ids": ids})
    assert [s.name for s in probe.stages] == ["encoder.layer.0", "encoder.layer.1"]
    expected = _direct_block_output(model, input_ids=ids, attention_mask=mask)
    assert torch.allclose(masked[2], expected, atol=1e-6)
    assert float((masked[2][:, :6] - unmasked[2][:, :6]).abs().max()) > 1e-4  # the mask changed the output


def test_an_ids_mask_pair_passes_its_mask_and_fits_from_a_dict_loader():
    model = _tiny_bert()
    ids, mask = _padded_batch(n=48)
    loader = [{"input_ids": ids[i:i + 16], "attention_mask": mask[i:i + 16]} for i in range(0, 32, 16)]
    with CascadeProbe(model, progress=False, device="cpu", samples=16) as probe:
        paired = probe.activations((ids[:4], mask[:4]))
        result = probe.fit(loader).evaluate({"input_ids": ids[32:], "attention_mask": mask[32:]})
    expected = _direct_block_output(model, input_ids=ids[:4], attention_mask=mask[:4])
    assert torch.allclose(paired[2], expected, atol=1e-6)
    assert result.depth == 2 and all(v is not None for v in result.metrics["mse"])


def test_a_pair_stays_ids_and_labels_for_a_model_without_a_mask():
    model = torch.nn.Sequential(torch.nn.Embedding(100, 8), torch.nn.Linear(8, 8), torch.nn.Tanh())
    ids, labels = _padded_batch()
    with CascadeProbe(model, stages=["1"], progress=False, device="cpu") as probe:
        zs = probe.activations((ids, labels))
    assert zs[1].shape == (8, 10, 8)


def test_the_readme_bert_example_runs(monkeypatch):
    """The README's BERT-with-a-mask example, as written, on a narrow BERT (same code, smaller config)."""
    import functools
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "BertModel(BertConfig" in b)
    narrow = functools.partial(transformers.BertConfig, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    monkeypatch.setattr(transformers, "BertConfig", narrow)
    scope = {"torch": torch, "CascadeProbe": functools.partial(CascadeProbe, progress=False, device="cpu", samples=44)}
    exec(code, scope)
    result = scope["result"]
    assert result.depth == 4 and result.samples == 44 and all(v is not None for v in result.metrics["mse"])
