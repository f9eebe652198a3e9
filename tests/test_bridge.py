"""The transformers 4.57 / 5.x accessor: every name the book relies on exists."""
import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import bridge


def test_every_name_the_book_uses_exists(model):
    assert bridge.missing_names(model) == [], (
        f"transformers {bridge.TRANSFORMERS_VERSION} renamed something the book relies on"
    )


def test_the_installed_version_uses_the_names_in_the_table(model):
    column = 0 if bridge.TRANSFORMERS_MAJOR < 5 else 1
    layer = bridge.encoder_layers(model)[0]
    for what, names in bridge.NAME_MAP.items():
        if what.startswith("layers"):
            continue
        obj = layer
        for part in names[column].split("."):
            obj = getattr(obj, part)  # AttributeError = the table is wrong for this version
    vit = bridge.vit_model(model)
    obj = vit
    for part in bridge.NAME_MAP["layers (relative to model.vit)"][column].split("."):
        obj = getattr(obj, part)
    assert obj is bridge.encoder_layers(model)


def test_layer_parts_shapes(model):
    p = bridge.layer_parts(model, 3)
    assert p.query.weight.shape == p.key.weight.shape == p.value.weight.shape == (768, 768)
    assert p.attention_output.weight.shape == (768, 768)
    assert p.mlp_in.weight.shape == (3072, 768) and p.mlp_out.weight.shape == (768, 3072)
    assert (p.num_heads, p.head_dim) == (12, 64)
    assert p.layer is bridge.encoder_layers(model)[3]
    assert p.layernorm_before.eps == 1e-12


def test_layer_parts_index_out_of_range(model):
    with pytest.raises(IndexError, match="12 layers"):
        bridge.layer_parts(model, 12)


def test_negative_index_is_the_last_layer(model):
    assert bridge.layer_parts(model, -1).layer is bridge.encoder_layers(model)[11]


def test_missing_names_reports_a_broken_model(model):
    import copy

    broken = copy.deepcopy(bridge.vit_model(model))
    del broken.layernorm
    assert any("layernorm" in name for name in bridge.missing_names(broken))


def test_call_attention_and_mlp_match_the_layer(model):
    """The bridge's calls reproduce one whole HuggingFace layer (4.57 and 5.x call these differently)."""
    torch.manual_seed(0)
    x = torch.randn(2, 197, 768, device=next(model.parameters()).device)
    p = bridge.layer_parts(model, 0)
    with torch.no_grad():
        attn, weights = bridge.call_attention(model, 0, p.layernorm_before(x))
        h = x + attn
        out = bridge.call_mlp(model, 0, p.layernorm_after(h), h)
        theirs = bridge.layer_output(p.layer(x))
    assert weights.shape == (2, 12, 197, 197)
    torch.testing.assert_close(out, theirs, rtol=1e-5, atol=1e-5)


def test_name_table_marks_the_installed_version():
    table = bridge.name_table()
    assert "(installed)" in table and "q_proj" in table and "attention.attention.query" in table


def test_encoder_layers_of_something_else_is_a_clear_error():
    with pytest.raises(AttributeError, match="encoder layers"):
        bridge.encoder_layers(torch.nn.Linear(2, 2))


def test_small_config_works():
    tiny = vt.random_model(config=vt.vit_config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                intermediate_size=64, image_size=32, patch_size=8))
    p = bridge.layer_parts(tiny, 1)
    assert (p.num_heads, p.head_dim) == (4, 8)
    assert bridge.missing_names(tiny) == []
