"""Chapters 8-9 helpers (vit_tutorial.head) against HuggingFace's modules."""
import pytest
import torch
from transformers import ViTModel
from transformers.models.vit.modeling_vit import ViTPooler

import vit_tutorial as vt
from vit_tutorial import head
from vit_tutorial.bridge import vit_model
from vit_tutorial.tolerance import assert_equivalent

# Each helper is a handful of float32 operations, the same ones HuggingFace uses: they agree
# to a few float32 rounding steps.
TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def small():
    config = vt.vit_config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           image_size=32, patch_size=8, num_labels=7, id2label={i: f"class {i}" for i in range(7)},
                           label2id={f"class {i}": i for i in range(7)})
    return vt.random_model(seed=3, config=config)


def _hf(model, pixels):
    with torch.no_grad():
        return model(pixels, output_hidden_states=True)


def test_final_norm_equals_vit_layernorm(any_model, cat_pixels):
    hidden = _hf(any_model, cat_pixels).hidden_states[-1]  # before the final LayerNorm
    with torch.no_grad():
        theirs = vit_model(any_model).layernorm(hidden)
        assert_equivalent(head.final_norm(hidden, any_model), theirs, **TOL)


def test_pooled_output_is_what_the_classifier_reads(any_model, batch_pixels):
    with torch.no_grad():
        base = vit_model(any_model)(batch_pixels, output_hidden_states=True)
        ours = head.pooled_output(base.hidden_states[-1], any_model)
    assert ours.shape == (4, 768)
    assert_equivalent(ours, base.last_hidden_state[:, 0], **TOL)


def test_head_gives_hf_logits(any_model, batch_pixels):
    out = _hf(any_model, batch_pixels)
    with torch.no_grad():
        ours = head.head(out.hidden_states[-1], any_model)
    assert_equivalent(ours, out.logits, rtol=1e-5, atol=1e-4)


def test_classify_equals_hf_classifier(any_model, dev):
    x = torch.randn(3, 768, generator=torch.Generator().manual_seed(1)).to(dev)
    with torch.no_grad():
        assert_equivalent(head.classify(x, any_model.classifier), any_model.classifier(x), rtol=1e-5, atol=1e-4)


def test_tanh_pooler_equals_vit_pooler(model, dev):
    torch.manual_seed(0)
    pooler = ViTPooler(model.config).to(dev).eval()
    hidden = torch.randn(2, 197, 768, device=dev)
    with torch.no_grad():
        assert_equivalent(head.tanh_pooler(hidden, pooler.dense), pooler(hidden), **TOL)


def test_tanh_pooler_equals_vitmodel_pooler_output(small, dev):
    torch.manual_seed(0)
    base = ViTModel(small.config, add_pooling_layer=True).eval().to(dev)
    pixels = torch.randn(2, 3, 32, 32, device=dev)
    with torch.no_grad():
        out = base(pixels)
        assert_equivalent(head.tanh_pooler(out.last_hidden_state, base.pooler.dense), out.pooler_output, **TOL)


def test_classification_model_has_no_pooler(model):
    assert vit_model(model).pooler is None


def test_pool_cls_and_mean_by_value():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    torch.testing.assert_close(head.pool_cls(hidden), hidden[:, 0])
    # tokens 1..3 of image 0 are rows [3,4,5], [6,7,8], [9,10,11] -> mean [6, 7, 8]
    torch.testing.assert_close(head.pool_mean(hidden)[0], torch.tensor([6.0, 7.0, 8.0]))
    assert head.pool_mean(hidden).shape == (2, 3)


def test_softmax_equals_torch_and_survives_large_logits():
    z = torch.randn(3, 1000, generator=torch.Generator().manual_seed(0)) * 4
    torch.testing.assert_close(head.softmax(z), z.softmax(-1), rtol=1e-6, atol=1e-7)
    big = z + 1e4
    p = head.softmax(big)
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p, big.softmax(-1), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(p.sum(-1), torch.ones(3))


def test_top_k_matches_top_predictions(any_model, batch_pixels):
    logits = _hf(any_model, batch_pixels).logits
    ours = head.top_k(logits, k=5)
    assert len(ours) == 4
    for i in range(4):
        theirs = vt.top_predictions(logits[i], k=5)
        assert [name for name, _ in ours[i]] == [name for name, _ in theirs]
        assert [p for _, p in ours[i]] == pytest.approx([p for _, p in theirs], rel=1e-5)


def test_small_config_head(small):
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = _hf(small, pixels)
    with torch.no_grad():
        logits = head.head(out.hidden_states[-1], small)
    assert logits.shape == (3, 7)
    assert_equivalent(logits, out.logits, **TOL)
    labels = [small.config.id2label[i] for i in range(7)]
    assert head.top_k(logits, k=3, labels=labels)[0][0][0] == labels[int(out.logits[0].argmax())]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: head.pool_cls(torch.zeros(2, 768)), ValueError, r"\(batch, tokens, hidden\)"),
        (lambda m: head.pool_cls([[0.0]]), TypeError, "must be a torch.Tensor"),
        (lambda m: head.pool_mean(torch.zeros(2, 1, 8)), ValueError, "no patch tokens"),
        (lambda m: head.final_norm(torch.zeros(1, 197, 64), m), ValueError, "hidden size 64 does not match"),
        (lambda m: head.classify(torch.zeros(1, 197, 768), m.classifier), ValueError, r"pick the \[CLS\] token"),
        (lambda m: head.classify(torch.zeros(1, 64), m.classifier), ValueError, "expects 768"),
        (lambda m: head.top_k(torch.zeros(1000)), ValueError, r"batch of logits"),
        (lambda m: head.top_k(torch.zeros(1, 7)), ValueError, "1000 labels for 7 classes"),
        (lambda m: head.top_k(torch.zeros(1, 1000), k=0), ValueError, "at least 1"),
    ],
)
def test_bad_inputs(model, call, error, match):
    with pytest.raises(error, match=match):
        call(model)
