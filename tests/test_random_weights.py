"""vit_tutorial.random_model (weights/random_weights.py): HF's initialisation law, seeded, cached on disk as safetensors."""
import os
import time

import pytest
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
    return sorted(p.name for p in sub.iterdir() if p.suffix == ".safetensors") if sub.exists() else []


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
    (path,) = (tmp_path / "random-weights").glob("*.safetensors")
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


# --------------------------------------------------------------------------- a verified cache


def _cached_path(folder):
    (path,) = (folder / "random-weights").glob("*.safetensors")
    return path


def test_flipped_bytes_are_detected_and_redrawn(tmp_path, monkeypatch, capsys):
    """A file whose bytes changed after it was written (disk error, partial copy) is not used:
    its SHA-256 no longer matches the one recorded beside it."""
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    expected = _weights(vt.random_model(seed=11, config=vt.vit_config(**MID)))
    path = _cached_path(tmp_path)
    assert (path.parent / (path.name + ".sha256")).read_text().strip() == _sha256(path)
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 4000, len(data) - 3000):  # flip bytes inside the last tensor's values
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    got = _weights(vt.random_model(seed=11, config=vt.vit_config(**MID)))
    assert "checksum mismatch" in capsys.readouterr().err
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)
    assert (path.parent / (path.name + ".sha256")).read_text().strip() == _sha256(path)  # repaired


def test_nan_weights_are_detected_even_with_a_matching_checksum(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file, save_file

    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    expected = _weights(vt.random_model(seed=12, config=vt.vit_config(**MID)))
    path = _cached_path(tmp_path)
    poisoned = {k: torch.full_like(v, float("nan")) for k, v in load_file(path).items()}
    save_file(poisoned, path)
    (path.parent / (path.name + ".sha256")).write_text(_sha256(path) + "\n")
    got = _weights(vt.random_model(seed=12, config=vt.vit_config(**MID)))
    assert "NaN" in capsys.readouterr().err
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)


def test_a_failing_save_runs_without_the_cache(tmp_path, monkeypatch, capsys):
    """A full disk makes safetensors raise its own error (not an OSError): warn once, go on."""
    import safetensors.torch

    def full_disk(*args, **kwargs):
        raise safetensors.SafetensorError("Error while serializing: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    model = vt.random_model(seed=13, config=vt.vit_config(**MID))
    err = capsys.readouterr().err
    assert "could not save the random weights" in err and "No space left" in err and err.count("\n") == 1
    assert not list((tmp_path / "random-weights").iterdir())  # nothing half-written left behind
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", "off")
    torch.testing.assert_close(model.classifier.weight, vt.random_model(seed=13, config=vt.vit_config(**MID)).classifier.weight,
                               rtol=0, atol=0)


def test_stale_tmp_files_are_removed_fresh_ones_kept(tmp_path, monkeypatch):
    """A writer killed mid-write leaves a .tmp behind; the next load removes it once it is old
    enough that no live writer can own it."""
    folder = tmp_path / "random-weights"
    folder.mkdir()
    stale, fresh = folder / "abc.tmp", folder / "def.tmp"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    vt.random_model(seed=14, config=vt.vit_config(**MID))
    assert not stale.exists() and fresh.exists()


def test_a_cache_without_checksum_is_redrawn_with_a_notice(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    vt.random_model(seed=15, config=vt.vit_config(**MID))
    path = _cached_path(tmp_path)
    (path.parent / (path.name + ".sha256")).unlink()
    vt.random_model(seed=15, config=vt.vit_config(**MID))
    assert "no checksum" in capsys.readouterr().err
    assert (path.parent / (path.name + ".sha256")).exists()


def test_a_verified_file_is_read_without_a_full_pass_until_it_changes(tmp_path, monkeypatch, capsys):
    """The SHA-256 and the finiteness are checked once; later loads trust the ``.verified`` record while the file's
    size, times and inode are those it recorded. A write, even one that keeps the size and puts the mtime back,
    changes the ctime: the next load hashes the file again and finds the damage."""
    from vit_tutorial.weights import random_weights as rw

    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    expected = _weights(vt.random_model(seed=16, config=vt.vit_config(**MID)))
    path = _cached_path(tmp_path)
    assert (path.parent / (path.name + ".verified")).is_file()
    hashed, real = [], rw._file_sha256
    monkeypatch.setattr(rw, "_file_sha256", lambda p: hashed.append(p) or real(p))
    vt.random_model(seed=16, config=vt.vit_config(**MID))
    assert hashed == []  # the record vouched for the file
    before = os.stat(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # one bit of the last tensor
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime put back; the ctime can't be
    got = _weights(vt.random_model(seed=16, config=vt.vit_config(**MID)))
    assert len(hashed) >= 1 and "checksum mismatch" in capsys.readouterr().err
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)


def test_a_record_taken_right_after_a_write_is_not_trusted(tmp_path, monkeypatch):
    """Within two seconds of the file's mtime a write in the same tick of a coarse clock could hide: such a
    ("racy") record sends the load through the full check, which then records the file again."""
    import json

    from vit_tutorial.weights import random_weights as rw

    monkeypatch.setenv("VIT_TUTORIAL_CACHE", str(tmp_path))
    vt.random_model(seed=17, config=vt.vit_config(**MID))
    path = _cached_path(tmp_path)
    record_path = path.parent / (path.name + ".verified")
    record = json.loads(record_path.read_text())
    record["verified_ns"] = record["mtime_ns"] + 1
    record_path.write_text(json.dumps(record))
    hashed, real = [], rw._file_sha256
    monkeypatch.setattr(rw, "_file_sha256", lambda p: hashed.append(p) or real(p))
    vt.random_model(seed=17, config=vt.vit_config(**MID))
    assert len(hashed) == 1
    assert json.loads(record_path.read_text())["verified_ns"] - record["mtime_ns"] >= 2_000_000_000  # recorded anew


def _sha256(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_seed_gives_the_same_model_on_transformers_4_and_5():
    """transformers 5 renamed a layer's modules and builds its two LayerNorms before the MLP (4.57 after);
    the weights are drawn in one order on both, so a seed means one model on both. CI runs this file on
    4.57 and on 5.x against the same fingerprint (a change in how weights are drawn changes it: bump
    RANDOM_WEIGHTS_SCHEME and record the new one)."""
    import hashlib

    from vit_tutorial.weights.random_weights import draw_order

    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=16,
                 num_labels=3, id2label={i: str(i) for i in range(3)}, label2id={str(i): i for i in range(3)})
    model = vt.random_model(seed=7, config=vt.vit_config(**small))
    params = dict(model.named_parameters())
    order = draw_order(list(params))
    assert sorted(order) == sorted(params)
    layer0 = [n.split(".0.", 1)[1].rsplit(".", 1)[0] for n in order if ".0." in n and n.endswith(".weight")]
    assert [n.split(".")[0] if n.startswith("layernorm") else n for n in layer0][4:6] == ["layernorm_before", "layernorm_after"], layer0
    digest = hashlib.sha256()
    for name in order:
        digest.update(params[name].detach().numpy().tobytes())
    assert digest.hexdigest()[:16] == "c455a9657b0a3b39"


def test_a_parameter_the_book_does_not_know_is_a_clear_error():
    from vit_tutorial.weights.random_weights import draw_order

    with pytest.raises(RuntimeError, match="vit.encoder.layer.0.adapter.weight"):
        draw_order(["vit.encoder.layer.0.adapter.weight"])
