"""vit_tutorial.random_model: HF's initialisation law, seeded, cached on disk as safetensors."""
import os

import torch

import vit_tutorial as vt

# Above the size from which random_model caches (2 M parameters), still quick to draw.
MID = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
           image_size=64, patch_size=16, num_labels=10, id2label={i: str(i) for i in range(10)},
           label2id={str(i): i for i in range(10)})


def _weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _cache_files(folder):
    sub = folder / "random-weights"
    return sorted(p.name for p in sub.iterdir()) if sub.exists() else []


def test_every_parameter_is_drawn_biases_and_norms_included():
    """Matrices N(0, std) as in HuggingFace; biases N(0, std) and LayerNorm 1 + N(0, std) / N(0, std),
    so that an equality check can tell a forgotten bias, gamma or beta."""
    model = vt.random_model(seed=0, config=vt.vit_config(**MID))
    std = model.config.initializer_range
    for name, p in model.named_parameters():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        centre = 1.0 if isinstance(module, torch.nn.LayerNorm) and name.endswith("weight") else 0.0
        if p.numel() < 50:
            continue
        assert abs(p.std().item() - std) < 0.2 * std, name
        assert abs(p.mean().item() - centre) < 0.2 * std, name
    assert all(p.requires_grad for p in model.parameters())
    assert not model.training and model.config._attn_implementation == "eager"


def test_cache_is_written_once_and_read_back_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    first = _weights(vt.random_model(seed=5, config=vt.vit_config(**MID)))
    files = _cache_files(tmp_path)
    assert len(files) == 1 and files[0].startswith("vit-seed5-") and files[0].endswith(".safetensors")
    stamp = os.stat(tmp_path / "random-weights" / files[0]).st_mtime_ns
    again = _weights(vt.random_model(seed=5, config=vt.vit_config(**MID)))
    assert os.stat(tmp_path / "random-weights" / files[0]).st_mtime_ns == stamp  # read, not rewritten
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", "off")
    drawn = _weights(vt.random_model(seed=5, config=vt.vit_config(**MID)))
    for name in first:
        torch.testing.assert_close(again[name], first[name], rtol=0, atol=0)
        torch.testing.assert_close(drawn[name], first[name], rtol=0, atol=0)


def test_cache_key_separates_seeds_and_configs(tmp_path, monkeypatch):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    a = vt.random_model(seed=1, config=vt.vit_config(**MID))
    b = vt.random_model(seed=2, config=vt.vit_config(**MID))
    c = vt.random_model(seed=1, config=vt.vit_config(**{**MID, "initializer_range": 0.05}))
    assert len(_cache_files(tmp_path)) == 3
    assert not torch.equal(a.classifier.weight, b.classifier.weight)
    assert c.classifier.weight.std() > 2 * a.classifier.weight.std()


def test_damaged_cache_file_is_drawn_again(tmp_path, monkeypatch):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    expected = _weights(vt.random_model(seed=7, config=vt.vit_config(**MID)))
    (path,) = (tmp_path / "random-weights").iterdir()
    path.write_bytes(b"not a safetensors file")
    got = _weights(vt.random_model(seed=7, config=vt.vit_config(**MID)))
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)
    assert path.stat().st_size > 1_000_000  # repaired


def test_changing_a_cached_model_leaves_the_cache_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    model = vt.random_model(seed=8, config=vt.vit_config(**MID))
    expected = model.classifier.weight.detach().clone()
    with torch.no_grad():
        model.classifier.weight.zero_()  # e.g. an exercise that edits the weights
    fresh = vt.random_model(seed=8, config=vt.vit_config(**MID))
    torch.testing.assert_close(fresh.classifier.weight, expected, rtol=0, atol=0)


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder can't be created under a file")
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(blocker))
    model = vt.random_model(seed=0, config=vt.vit_config(**MID))
    assert torch.isfinite(model.classifier.weight).all()


def test_small_models_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    vt.random_model(config=vt.vit_config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    assert _cache_files(tmp_path) == []


def test_cached_model_matches_its_own_forward(tmp_path, monkeypatch):
    """The model built from cached weights is an ordinary, working HF model."""
    from vit_tutorial.scratch import vit_forward

    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    vt.random_model(seed=9, config=vt.vit_config(**MID))
    model = vt.random_model(seed=9, config=vt.vit_config(**MID))  # from the cache
    pixels = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = model(pixels).logits
    # same float32 operations in a different order: 1e-5
    torch.testing.assert_close(vit_forward(pixels, model), theirs, rtol=1e-5, atol=1e-5)
