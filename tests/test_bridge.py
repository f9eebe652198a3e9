"""The transformers 4.57 / 5.x accessor: every name the book relies on exists."""
from types import SimpleNamespace

import pytest
import torch

import vit_tutorial as vt
from vit_tutorial import bridge


def test_every_name_the_book_uses_exists(model):
    assert bridge.missing_names(model) == [], (
        f"transformers {bridge.TRANSFORMERS_VERSION} renamed something the book relies on"
    )


def test_the_installed_version_uses_the_names_in_the_table(model):
    columns = bridge.installed_columns(model)
    assert set(columns.values()) <= {0, 1}, columns
    layer = bridge.encoder_layers(model)[0]
    for what, names in bridge.NAME_MAP.items():
        if what.startswith("layers"):
            continue
        obj = layer
        for part in names[columns[what]].split("."):
            obj = getattr(obj, part)  # AttributeError = the table is wrong for this version
    vit = bridge.vit_model(model)
    obj = vit
    for part in bridge.NAME_MAP["layers (relative to model.vit)"][columns["layers (relative to model.vit)"]].split("."):
        obj = getattr(obj, part)
    assert obj is bridge.encoder_layers(model)


def _fake_vit(column: int, mixed: bool = False) -> torch.nn.Module:
    """A module tree with only the names of one column of NAME_MAP (or old attention + new MLP)."""
    root = torch.nn.Module()
    root.vit = torch.nn.Module()

    def put(obj, dotted, leaf):
        *path, last = dotted.split(".")
        for part in path:
            if not hasattr(obj, part):
                obj.add_module(part, torch.nn.Module())
            obj = getattr(obj, part)
        obj.add_module(last, leaf)

    layer = torch.nn.Module()
    put(root.vit, bridge.NAME_MAP["layers (relative to model.vit)"][column], torch.nn.ModuleList([layer]))
    for what, names in bridge.NAME_MAP.items():
        if what.startswith("layers"):
            continue
        col = (1 if what.startswith("MLP") else 0) if mixed else column
        put(layer, names[col], torch.nn.Linear(2, 2))
    layer.layernorm_before, layer.layernorm_after = torch.nn.LayerNorm(2), torch.nn.LayerNorm(2)
    root.vit.config = SimpleNamespace(num_attention_heads=1, hidden_size=2,
                                      attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)
    return root


def test_name_table_marks_by_what_the_code_has_not_by_the_version():
    """transformers 5.0 kept the 4.57 names: the mark must follow the modules, not the major version."""
    old, new = _fake_vit(0), _fake_vit(1)
    assert set(bridge.installed_columns(old).values()) == {0}
    assert set(bridge.installed_columns(new).values()) == {1}
    assert not bridge.uses_new_names(old) and bridge.uses_new_names(new)
    assert "| what | 4.57 and 5.0 (installed) | 5.24 |" in bridge.name_table(old)
    assert "| what | 4.57 and 5.0 | 5.24 (installed) |" in bridge.name_table(new)


def test_name_table_marks_each_row_of_a_mixed_layout():
    mixed = _fake_vit(0, mixed=True)
    table = bridge.name_table(mixed)
    assert "(installed)" not in table.splitlines()[0]
    assert "| query | `attention.attention.query` ← installed | `attention.q_proj` |" in table
    assert "| MLP in (768 -> 3072) | `intermediate.dense` | `mlp.fc1` ← installed |" in table
    assert bridge.layer_parts(mixed, 0).mlp_in is bridge.encoder_layers(mixed)[0].mlp.fc1
    assert bridge.layer_parts(mixed, 0).query is bridge.encoder_layers(mixed)[0].attention.attention.query


def test_installed_library_is_detected_without_a_model():
    """Without a model the table inspects a tiny ViT of the installed transformers."""
    from transformers import ViTConfig, ViTModel

    tiny = ViTModel(ViTConfig(image_size=4, patch_size=2, num_channels=1, hidden_size=4, num_hidden_layers=1,
                              num_attention_heads=1, intermediate_size=4), add_pooling_layer=False)
    assert bridge.installed_columns() == bridge.installed_columns(tiny)
    assert bridge.name_table() == bridge.name_table(tiny)


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
