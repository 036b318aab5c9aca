"""hf:NAME models: built from transformers' config classes at random weights, with no download."""

import pytest
import torch

pytest.importorskip("transformers")

from reprobe.core.errors import ReprobeError
from reprobe.data import DatasetBundle, load_dataset
from reprobe.data.tokens import adapt_tokens
from reprobe.models import build_model

TINY_GPT2 = "hf:gpt2:n_layer=2,n_embd=32,n_head=2"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any attempt to reach the Hugging Face hub fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_gpt2_spec_builds_offline_with_its_overrides():
    model = build_model(TINY_GPT2, (16,), 2)
    assert type(model).__name__ == "GPT2Model"
    assert (model.config.n_layer, model.config.n_embd, len(model.h)) == (2, 32, 2)
    assert model.reprobe_input == {"tokens": {"vocab": 50257, "length": 128}}
    out = model(input_ids=torch.randint(0, 50257, (2, 5)))
    assert out.last_hidden_state.shape == (2, 5, 32)


@pytest.mark.parametrize("spec, cls", [
    ("hf:bert-base-uncased:num_hidden_layers=2,hidden_size=32,num_attention_heads=2,intermediate_size=64", "BertModel"),
    ("hf:vit-base-patch16-224:num_hidden_layers=2,hidden_size=32,num_attention_heads=2,intermediate_size=64,image_size=32",
     "ViTModel"),
])
def test_bert_and_vit_specs_build_offline(spec, cls):
    model = build_model(spec, (16,), 2)
    assert type(model).__name__ == cls and model.config.num_hidden_layers == 2
    if cls == "ViTModel":
        assert model.reprobe_input["size"] == [32, 32]
    else:
        assert model.reprobe_input["tokens"]["vocab"] == 30522


def test_same_seed_same_weights():
    a, b = build_model(TINY_GPT2, (16,), 2, seed=3), build_model(TINY_GPT2, (16,), 2, seed=3)
    assert torch.equal(a.h[0].attn.c_attn.weight, b.h[0].attn.c_attn.weight)


@pytest.mark.parametrize("spec, options, words", [
    ("hf:openai-community/gpt2", {}, "download"),
    ("hf:gpt2:n_layr=2", {}, "did you mean 'n_layer'"),
    ("hf:gpt2:n_layer", {}, "key=value"),
    (TINY_GPT2, {"weights": "imagenet"}, "random initialisation"),
])
def test_what_would_download_or_is_misspelt_fails_in_one_line(spec, options, words):
    with pytest.raises(ReprobeError) as e:
        build_model(spec, (16,), 2, **options)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_token_data_is_fitted_to_the_model():
    bundle = load_dataset("tokens", vocab=50257, length=32, size=40)
    fitted = adapt_tokens(bundle, vocab=1000, length=16)
    ids = fitted.train.tensors[0]
    assert fitted.input_shape == (16,) and ids.shape[1] == 16 and int(ids.max()) < 1000
    images = DatasetBundle("pictures", bundle.train, bundle.test, (1, 4, 4), 2)  # no token vocabulary
    with pytest.raises(ReprobeError, match="tokens"):
        adapt_tokens(images, vocab=1000)
