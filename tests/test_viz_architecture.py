"""The architecture figure: names from the bridge's table, shapes from the config."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from vit_tutorial import bridge, tiny  # noqa: E402
from vit_tutorial.figures import architecture as viz_architecture  # noqa: E402


def _texts(fig):
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_figure_names_both_namings_and_the_shapes_of_vit_b16():
    fig = viz_architecture.architecture_figure()
    text = _texts(fig)
    plt.close(fig)
    for what, (old, new) in bridge.NAME_MAP.items():
        if what in ("query", "key", "value"):
            continue  # drawn together as {query,key,value} / {q,k,v}_proj
        assert old in text and new in text, what
    assert "attention.attention.{query,key,value}" in text and "attention.{q,k,v}_proj" in text
    for shape in ("(B, 3, 224, 224)", "(B, 196, 768)", "(B, 197, 768)", "(B, 12, 197, 197)", "(B, 197, 3072)", "(B, 768)", "(B, 1000)"):
        assert shape in text, shape
    for module in (
        "vit.embeddings.patch_embeddings.projection",
        "vit.embeddings.cls_token",
        "vit.embeddings.position_embeddings",
        "vit.layernorm",
        "layernorm_before",
        "layernorm_after",
    ):
        assert module in text, module


def test_figure_follows_another_config():
    fig = viz_architecture.architecture_figure(tiny.tiny_config())
    text = _texts(fig)
    plt.close(fig)
    assert "(B, 3, 32, 32)" in text and "(B, 17, 64)" in text and "(B, 4, 17, 17)" in text and "(B, 10)" in text
    assert "4 × layer" in text


def test_every_label_is_readable_in_the_book():
    """At least 9 px as the book's 672 px column displays it (it was 5.3 px at 11 in wide)."""
    from vit_tutorial.figures import fonts as viz_fonts

    for config in (None, tiny.tiny_config()):
        fig = viz_architecture.architecture_figure(config)
        try:
            viz_fonts.assert_readable(fig)
            assert viz_fonts.png_size(_png(fig))[0] <= viz_fonts.COLUMN_PX  # shown at its own size
        finally:
            plt.close(fig)


def _png(fig) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return buffer.getvalue()
