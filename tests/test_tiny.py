"""Appendix A2: the tiny ViT trained on sklearn's digits - shipped weights, training, and the book's helpers on it."""
import hashlib
import json
from importlib import resources

import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import bridge, tiny
from vit_tutorial.attention import self_attention
from vit_tutorial.patches import patch_embed
from vit_tutorial.scratch import vit_forward
from vit_tutorial.weights import tiny as tiny_files

pytest.importorskip("sklearn")

# float32 through a 4-layer, 64-wide model: the two code paths round differently in the last bits.
LOGITS_TOL = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def split():
    return tiny.load_digits_split()


@pytest.fixture(scope="module")
def shipped():
    return tiny_files.load_tiny()


@pytest.fixture(scope="module")
def metrics():
    return tiny.tiny_metrics()


# --- the shipped checkpoint ---------------------------------------------------------------------


def test_shipped_file_is_small_and_matches_its_record(metrics):
    file = resources.files("vit_tutorial").joinpath(tiny_files.WEIGHTS_PATH)
    data = file.read_bytes()
    assert len(data) < 2 * 1024 * 1024
    assert hashlib.sha256(data).hexdigest() == metrics["sha256"]
    assert metrics["file_bytes"] == len(data)
    assert metrics["recipe"] == tiny.RECIPE
    assert metrics["architecture"] == tiny_files.architecture(tiny.tiny_config())
    assert len(metrics["loss_per_step"]) == metrics["steps"] == metrics["steps_per_epoch"] * tiny.RECIPE["epochs"]
    assert len(metrics["test_accuracy_per_epoch"]) == tiny.RECIPE["epochs"]


def test_split_is_the_documented_one(split, metrics):
    assert len(split.train_labels) == metrics["split"]["train"] == 1437
    assert len(split.test_labels) == metrics["split"]["test"] == 360
    assert split.train_images.shape[1:] == (8, 8) and split.train_images.max() <= 16
    assert torch.bincount(split.test_labels).min() >= 35  # stratified: every digit is held out


def test_shipped_model_reaches_stated_accuracy(shipped, split, metrics):
    acc = tiny.evaluate(shipped, tiny.digits_to_pixels(split.test_images), split.test_labels)
    assert acc >= 0.95
    assert acc == pytest.approx(metrics["test_accuracy"], abs=2 / 360)  # same weights: at most a tie flips


def test_load_model_tiny_digits(split):
    model, processor, source = vt.load_model("tiny-digits", verbose=False)
    assert source.name == "tiny-digits" and source.trained and source.notice == ""
    assert "tiny-digits" in source.stamp
    assert model.config.num_labels == 10 and model.config.image_size == 32
    assert model.config._attn_implementation == "eager"
    assert not model.training
    # the processor it comes with turns a digit picture into what the model was trained on
    images = [tiny.digit_image(im) for im in split.test_images[:40]]
    theirs = processor(images=images, return_tensors="pt")["pixel_values"]
    ours = tiny.digits_to_pixels(split.test_images[:40])
    # PIL resizes 8-bit images, so values differ by about one grey level (2/255 after normalising)
    torch.testing.assert_close(theirs, ours, rtol=0, atol=2.5 / 255 * 2)
    with torch.no_grad():
        acc = (model(theirs.to(next(model.parameters()).device)).logits.argmax(-1).cpu() == split.test_labels[:40]).float().mean()
    assert acc >= 0.9


def test_load_model_env_and_bad_source(monkeypatch):
    from vit_tutorial.weights.sources import WEIGHTS_ENV, resolve_source

    monkeypatch.setenv(WEIGHTS_ENV, "tiny-digits")

    assert resolve_source() == ("tiny-digits", "asked for")
    with pytest.raises(ValueError, match="tiny-digits"):
        resolve_source("tiny-digit")


def test_load_tiny_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_tiny_digits"):
        tiny_files.load_tiny(tmp_path / "nope.safetensors")


def test_save_and_load_round_trip(shipped, tmp_path):
    path = tmp_path / "copy.safetensors"
    tiny_files.save_tiny(shipped, path)
    again = tiny_files.load_tiny(path)
    for (name, a), (_, b) in zip(shipped.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name


def test_file_uses_classic_names_on_every_version(shipped):
    keys = set(tiny_files.canonical_state_dict(shipped))
    assert "vit.encoder.layer.0.attention.attention.query.weight" in keys
    assert "vit.encoder.layer.3.output.dense.bias" in keys
    assert not any(".layers." in k or "q_proj" in k or "fc1" in k for k in keys)
    assert len(keys) == len(shipped.state_dict())


# --- the book's helpers on the tiny model ------------------------------------------------------------


def test_vit_forward_equals_hf_on_tiny(shipped, split):
    pixels = tiny.digits_to_pixels(split.test_images[:16])
    with torch.no_grad():
        theirs = shipped(pixels).logits
    torch.testing.assert_close(vit_forward(pixels, shipped), theirs, **LOGITS_TOL)


def test_patch_embed_and_attention_on_tiny(shipped, split):
    pixels = tiny.digits_to_pixels(split.test_images[:4])
    emb = bridge.vit_model(shipped).embeddings
    conv = emb.patch_embeddings.projection
    with torch.no_grad():
        ours = patch_embed(pixels, conv.weight, conv.bias)
        assert ours.shape == (4, 16, 64)
        torch.testing.assert_close(ours, emb.patch_embeddings(pixels), rtol=1e-5, atol=1e-5)
        x = emb(pixels)  # (4, 17, 64)
        for i in range(shipped.config.num_hidden_layers):
            parts = bridge.layer_parts(shipped, i)
            h = parts.layernorm_before(x)
            out, weights = self_attention(h, parts)
            hf_out, hf_weights = bridge.call_attention(shipped, i, h)
            torch.testing.assert_close(out, hf_out, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(weights, hf_weights, rtol=1e-5, atol=1e-6)
            x = bridge.layer_output(bridge.encoder_layers(shipped)[i](x))


# --- data helpers -------------------------------------------------------------------------------------


def test_digits_to_pixels_shape_and_range(split):
    px = tiny.digits_to_pixels(split.test_images[:5], size=16)
    assert px.shape == (5, 3, 16, 16)
    assert px.min() >= -1 and px.max() <= 1
    assert torch.equal(px[:, 0], px[:, 2])  # grey: R = G = B
    blank = tiny.digits_to_pixels(torch.zeros(8, 8))
    assert blank.shape == (1, 3, 32, 32) and torch.all(blank == -1)


def test_digits_to_pixels_bad_input():
    with pytest.raises(ValueError, match="grey images"):
        tiny.digits_to_pixels(torch.zeros(2, 3, 8, 8))


def test_shift_digits_moves_by_at_most_one_pixel():
    g = torch.Generator().manual_seed(0)
    one = torch.zeros(50, 8, 8)
    one[:, 4, 4] = 16
    shifted = tiny.shift_digits(one, g, max_shift=1)
    rows, cols = (shifted == 16).nonzero()[:, 1], (shifted == 16).nonzero()[:, 2]
    assert len(rows) == 50 and rows.min() == 3 and rows.max() == 5 and cols.min() == 3 and cols.max() == 5
    assert torch.equal(tiny.shift_digits(one, g, max_shift=0), one)


def test_tiny_config_overrides_and_errors():
    config = tiny.tiny_config(patch_size=4, num_hidden_layers=2)
    assert (config.patch_size, config.num_hidden_layers, config.hidden_size, config.num_labels) == (4, 2, 64, 10)
    with pytest.raises(ValueError, match="does not divide into 5 x 5 patches"):
        tiny.tiny_config(patch_size=5)
    with pytest.raises(ValueError, match="does not divide into 3 heads"):
        tiny.tiny_config(num_attention_heads=3)


# --- training -----------------------------------------------------------------------------------------


def test_short_training_run_is_reproducible(split):
    threads = torch.get_num_threads()
    a = tiny.train(steps=4, split=split, progress=False)
    b = tiny.train(steps=4, split=split, progress=False)
    c = tiny.train(steps=4, split=split, progress=False, seed=1)
    assert a.steps == 4 and len(a.losses) == 4 and len(a.test_accuracy) == 1
    assert all(torch.isfinite(torch.tensor(a.losses)))
    assert not a.model.training
    for (name, p), q, r in zip(a.model.named_parameters(), b.model.parameters(), c.model.parameters()):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.model.parameters(), c.model.parameters()))
    # the thread count and the deterministic-kernels switch are left as they were
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()


def test_train_progress_bar_only_when_asked(split, capsys):
    # progress=True (the default, for people calling it themselves) shows a bar with the loss;
    # the book passes progress=False, because in a notebook the bar is a widget, an empty box on
    # the static page. Outside a notebook tqdm.auto draws a text bar on stderr.
    tiny.train(steps=2, split=split, evaluate_every_epoch=False)
    shown = capsys.readouterr()
    assert "training" in shown.err and "2/2" in shown.err and "loss=" in shown.err
    tiny.train(steps=2, split=split, progress=False, evaluate_every_epoch=False)
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == ""


@pytest.mark.slow  # a subprocess or a kernel: make test runs it, make check does not
def test_short_training_learns_something(split):
    run = tiny.train(steps=60, split=split, progress=False, evaluate_every_epoch=False)
    assert sum(run.losses[-10:]) / 10 < sum(run.losses[:10]) / 10
    assert len(run.test_accuracy) == 1 and 0 <= run.test_accuracy[0] <= 1  # (a ViT starts slowly: ~15 % here)


def test_train_other_config(split):
    run = tiny.train(tiny.tiny_config(patch_size=16, num_hidden_layers=1), steps=2, split=split, progress=False)
    assert run.model.config.patch_size == 16


def test_train_and_evaluate_errors(split, shipped):
    three = {0: "a", 1: "b", 2: "c"}
    with pytest.raises(ValueError, match="10 classes"):
        tiny.train(tiny.tiny_config(id2label=three, label2id={v: k for k, v in three.items()}), steps=1, split=split, progress=False)
    with pytest.raises(ValueError, match="nothing to train"):
        tiny.train(steps=0, split=split, progress=False)
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        tiny.evaluate(shipped, torch.zeros(3, 3, 32, 32), torch.zeros(2, dtype=torch.long))


def test_metrics_json_is_plain_json(metrics):
    json.dumps(metrics)
    assert 0 < metrics["train_seconds"] and metrics["threads"] == tiny.THREADS
    assert metrics["test_accuracy_per_epoch"][-1] == pytest.approx(metrics["test_accuracy"], abs=1e-4)
