"""Which functions of the package answer which exercise of the book.

The book never shows the source of these outside a solution: not above the exercise, and
nowhere in the student copy (``tests/test_answers_not_printed.py`` reads this table and every
notebook). Each entry maps an exercise's label in the book to the dotted names of the package
functions whose code is its answer; an empty tuple says that no function of the package is.
A new exercise needs an entry here (the test says so).
"""

from __future__ import annotations

ANSWERS: dict[str, tuple[str, ...]] = {
    # chapter 1
    "ex-stage-shapes": (),
    "ex-parameter-count": (),
    # chapter 2
    "ex-patchify": ("vit_tutorial.patches.patchify",),
    "ex-patch-embed": ("vit_tutorial.patches.patch_embed",),
    # chapter 3
    "ex-embed": ("vit_tutorial.embeddings.embed",),
    "ex-position-similarity": ("vit_tutorial.embeddings.position_similarity",),
    "ex-dropout": ("vit_tutorial.embeddings.dropout_with_mask",),
    "ex-shuffle-patches": (),
    "ex-shuffle-experiment": (),
    # chapter 4
    "ex-attention-head": ("vit_tutorial.attention.scaled_dot_product",),
    "ex-split-merge": ("vit_tutorial.attention.split_heads", "vit_tutorial.attention.merge_heads"),
    "ex-multi-head": ("vit_tutorial.attention.self_attention",),
    # chapter 5
    "ex-layer-norm": ("vit_tutorial.layernorm.layer_norm",),
    "ex-batch-norm": ("vit_tutorial.layernorm.batch_norm",),
    # chapter 6
    "ex-pre-norm-block": ("vit_tutorial.residual.pre_norm_residual",),
    "ex-token-norms": ("vit_tutorial.residual.token_norms",),
    "ex-post-norm-block": ("vit_tutorial.residual.post_norm_residual",),
    "ex-norm-order-experiment": (),
    # chapter 7
    "ex-gelu": ("vit_tutorial.mlp.gelu",),
    "ex-mlp": ("vit_tutorial.mlp.mlp",),
    "ex-encoder-layer": ("vit_tutorial.encoder.encoder_layer",),
    # chapter 8
    "ex-image-summary": ("vit_tutorial.head.pooled_output", "vit_tutorial.head.final_norm", "vit_tutorial.head.pool_cls"),
    "ex-mean-pool": ("vit_tutorial.head.pool_mean",),
    "ex-vit-pooler": ("vit_tutorial.head.tanh_pooler",),
    # chapter 9
    "ex-classifier": ("vit_tutorial.head.classify",),
    "ex-softmax": ("vit_tutorial.head.softmax",),
    "ex-vit-forward": ("vit_tutorial.scratch.vit_forward",),
    # chapter 10
    "ex-cross-entropy": ("vit_tutorial.training.cross_entropy",),
    "ex-freeze-for-probe": ("vit_tutorial.training.freeze_all_but_head",),
    # appendix A2
    "ex-digits-to-pixels": ("vit_tutorial.tiny.digits_to_pixels",),
    "ex-variant-config": (),
}
