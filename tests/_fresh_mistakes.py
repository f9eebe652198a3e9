"""Fresh learner mistakes, written from the exercise texts alone (issue 24).

Each mistake is a plausible wrong answer to one exercise of the book, written from the
``{exercise}`` prompt, the stub and the name of its self-check only, before reading
``vit_tutorial/exercises`` or ``tests/_exercise_catalogue.py``. ``phrases`` are the words
a good diagnosis should contain (any one of them, case-insensitive), also written before
the checkers were read. The set measures the self-checks' diagnoses on mistakes they were
not written with; it is not to be edited to fit them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Mistake:
    id: str
    check: str  # the self-check's name in vit_tutorial.exercises
    fn: Callable
    what: str  # the mistake, in words
    phrases: tuple[str, ...]  # a good diagnosis contains one of these


MISTAKES: list[Mistake] = []


def mistake(id: str, check: str, what: str, *phrases: str):
    def add(fn):
        MISTAKES.append(Mistake(id, check, fn, what, tuple(phrases)))
        return fn

    return add


def _patchify(pixels, p):  # a correct patchify, used inside other exercises' mistakes
    b, c, h, w = pixels.shape
    x = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


def _ln(x, w, b, eps):  # a correct LayerNorm
    m = x.mean(-1, keepdim=True)
    v = ((x - m) ** 2).mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(v + eps) * w + b


def _gelu(x):  # a correct exact GELU
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def _lin(x, layer):
    return x @ layer.weight.T + layer.bias


# ---------------------------------------------------------------- chapter 1: stage_shapes


def _shapes(config, batch, *, tokens_plus=1, heads=True, channels_last=False, grid=None):
    n = grid if grid is not None else (config.image_size // config.patch_size) ** 2
    d = config.hidden_size
    pix = (batch, config.num_channels, config.image_size, config.image_size)
    if channels_last:
        pix = (batch, config.image_size, config.image_size, config.num_channels)
    t = n + tokens_plus
    att = (batch, config.num_attention_heads, t, t) if heads else (batch, t, t)
    return {"pixel_values": pix, "patches": (batch, n, d), "tokens": (batch, t, d),
            "attention": att, "logits": (batch, config.num_labels)}


@mistake("shapes-no-cls", "check_stage_shapes", "tokens and attention forget the [CLS] token (N, not N + 1)", "[CLS]", "cls")
def stage_shapes_no_cls(config, batch):
    return _shapes(config, batch, tokens_plus=0)


@mistake("shapes-no-heads", "check_stage_shapes", "attention shape without the heads axis", "head")
def stage_shapes_no_heads(config, batch):
    return _shapes(config, batch, heads=False)


@mistake("shapes-channels-last", "check_stage_shapes", "pixel_values written channels last (B, H, W, C)", "channel")
def stage_shapes_channels_last(config, batch):
    return _shapes(config, batch, channels_last=True)


@mistake("shapes-grid-not-squared", "check_stage_shapes", "number of patches = image_size // patch_size (the side, not squared)",
         "squared", "grid", "number of patches", "side")
def stage_shapes_grid(config, batch):
    return _shapes(config, batch, grid=config.image_size // config.patch_size)


@mistake("shapes-lists", "check_stage_shapes", "shapes returned as lists, not tuples", "tuple")
def stage_shapes_lists(config, batch):
    return {k: list(v) for k, v in _shapes(config, batch).items()}


# ---------------------------------------------------------------- chapter 1: parameter_count


def _count(config, *, qkv_bias=True, pos_cls=True, final_ln=True, ln_params=2, cls_bias=True, cls_token=True):
    d, L, i = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    p, s, c, k = config.patch_size, config.image_size, config.num_channels, config.num_labels
    n = (s // p) ** 2
    emb = d * c * p * p + d + (d if cls_token else 0) + (n + 1 if pos_cls else n) * d
    attn = 3 * d * d + (3 * d if qkv_bias else 0) + d * d + d
    mlp = d * i + i + i * d + d
    layer = attn + mlp + 2 * ln_params * d
    head = (ln_params * d if final_ln else 0) + k * d + (k if cls_bias else 0)
    return emb + L * layer + head


@mistake("count-no-qkv-bias", "check_parameter_count", "Q, K, V counted without their biases", "bias")
def parameter_count_no_qkv_bias(config):
    return _count(config, qkv_bias=False)


@mistake("count-pos-no-cls", "check_parameter_count", "position embeddings counted for N patches, not N + 1", "position")
def parameter_count_pos_no_cls(config):
    return _count(config, pos_cls=False)


@mistake("count-no-final-ln", "check_parameter_count", "the final LayerNorm forgotten", "final layernorm", "final LayerNorm")
def parameter_count_no_final_ln(config):
    return _count(config, final_ln=False)


@mistake("count-ln-weight-only", "check_parameter_count", "each LayerNorm counted as D (weight only, no bias)", "layernorm")
def parameter_count_ln_weight_only(config):
    return _count(config, ln_params=1)


@mistake("count-no-classifier-bias", "check_parameter_count", "the classifier's bias forgotten", "classifier")
def parameter_count_no_classifier_bias(config):
    return _count(config, cls_bias=False)


@mistake("count-no-cls-token", "check_parameter_count", "the [CLS] token forgotten", "[CLS]", "cls token", "cls_token")
def parameter_count_no_cls_token(config):
    return _count(config, cls_token=False)


# ---------------------------------------------------------------- chapter 2: patchify


@mistake("patchify-channels-last", "check_patchify", "each patch flattened (P, P, C), channels last", "channel")
def patchify_channels_last(pixels, patch_size):
    b, c, h, w = pixels.shape
    p = patch_size
    x = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, -1, c * p * p)


@mistake("patchify-column-order", "check_patchify", "patches numbered column by column", "column", "row by row", "order of the patches")
def patchify_column_order(pixels, patch_size):
    b, c, h, w = pixels.shape
    p = patch_size
    x = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(b, -1, c * p * p)


@mistake("patchify-no-permute", "check_patchify", "one reshape, no permute: rows of pixels, not patches", "permute", "mix")
def patchify_no_permute(pixels, patch_size):
    b, c, h, w = pixels.shape
    return pixels.reshape(b, (h // patch_size) * (w // patch_size), c * patch_size * patch_size)


@mistake("patchify-unfold-not-transposed", "check_patchify", "F.unfold's (B, C*P*P, N) returned without the transpose",
         "transpose", "swapped")
def patchify_unfold(pixels, patch_size):
    return F.unfold(pixels, kernel_size=patch_size, stride=patch_size)


@mistake("patchify-inner-transposed", "check_patchify", "inside a patch, x and y swapped (C, Pw, Ph)",
         "transpose", "within a patch", "inside each patch", "swapped")
def patchify_inner_transposed(pixels, patch_size):
    b, c, h, w = pixels.shape
    p = patch_size
    x = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 5, 3)
    return x.reshape(b, -1, c * p * p)


# ---------------------------------------------------------------- chapter 2: patch_embed


@mistake("embed-patches-no-bias", "check_patch_embed", "bias forgotten", "bias")
def patch_embed_no_bias(pixels, weight, bias):
    return _patchify(pixels, weight.shape[-1]) @ weight.reshape(weight.shape[0], -1).T


@mistake("embed-patches-weight-reshaped-wrong", "check_patch_embed", "weight reshaped to (C*P*P, D) instead of transposed",
         "transpose", "reshape")
def patch_embed_weight_reshape(pixels, weight, bias):
    return _patchify(pixels, weight.shape[-1]) @ weight.reshape(-1, weight.shape[0]) + bias


@mistake("embed-patches-patch-size-from-channels", "check_patch_embed", "patch size read from weight.shape[1] (that is C)",
         "patch size")
def patch_embed_wrong_patch_size(pixels, weight, bias):
    p = weight.shape[1]
    return _patchify(pixels, p) @ weight.reshape(weight.shape[0], -1).T + bias


@mistake("embed-patches-transposed-result", "check_patch_embed", "result returned (B, D, N), as a conv's flattened output",
         "transpose", "swapped", "(B, N, D)")
def patch_embed_transposed(pixels, weight, bias):
    return (_patchify(pixels, weight.shape[-1]) @ weight.reshape(weight.shape[0], -1).T + bias).transpose(1, 2)


# ---------------------------------------------------------------- chapter 3: embed


@mistake("embed-cls-last", "check_embed", "[CLS] appended at the end instead of prepended", "front", "first", "end", "prepend")
def embed_cls_last(patch_embeddings, cls_token, position_embeddings):
    cls = cls_token.expand(patch_embeddings.shape[0], -1, -1)
    return torch.cat([patch_embeddings, cls], dim=1) + position_embeddings


@mistake("embed-cls-without-position", "check_embed", "positions 1.. added to the patches; [CLS] gets no position",
         "[CLS]", "position 0")
def embed_cls_without_position(patch_embeddings, cls_token, position_embeddings):
    cls = cls_token.expand(patch_embeddings.shape[0], -1, -1)
    return torch.cat([cls, patch_embeddings + position_embeddings[:, 1:]], dim=1)


@mistake("embed-cls-not-expanded", "check_embed", "cls_token not expanded to the batch (fails for B > 1)", "expand", "batch")
def embed_cls_not_expanded(patch_embeddings, cls_token, position_embeddings):
    return torch.cat([cls_token, patch_embeddings], dim=1) + position_embeddings


@mistake("embed-no-positions", "check_embed", "position embeddings forgotten", "position")
def embed_no_positions(patch_embeddings, cls_token, position_embeddings):
    cls = cls_token.expand(patch_embeddings.shape[0], -1, -1)
    return torch.cat([cls, patch_embeddings], dim=1)


@mistake("embed-cat-batch-axis", "check_embed", "[CLS] concatenated along the batch axis (dim 0)", "axis", "dim")
def embed_cat_batch_axis(patch_embeddings, cls_token, position_embeddings):
    return torch.cat([cls_token, patch_embeddings], dim=0) + position_embeddings[:, 1:]


# ---------------------------------------------------------------- chapter 3: position_similarity


@mistake("possim-keeps-cls", "check_position_similarity", "[CLS] kept: (N + 1, N + 1)", "[CLS]", "cls")
def position_similarity_keeps_cls(position_embeddings):
    p = F.normalize(position_embeddings[0], dim=-1)
    return p @ p.T


@mistake("possim-not-normalised", "check_position_similarity", "raw dot products, not cosines", "normalis", "normaliz", "cosine")
def position_similarity_raw(position_embeddings):
    p = position_embeddings[0, 1:]
    return p @ p.T


@mistake("possim-normalised-wrong-axis", "check_position_similarity", "normalised over the positions axis (dim 0)",
         "axis", "dim", "normalis")
def position_similarity_wrong_axis(position_embeddings):
    p = position_embeddings[0, 1:]
    p = p / p.norm(dim=0, keepdim=True)
    return p @ p.T


@mistake("possim-drops-last", "check_position_similarity", "drops the last position instead of [CLS]", "[CLS]", "first")
def position_similarity_drops_last(position_embeddings):
    p = F.normalize(position_embeddings[0, :-1], dim=-1)
    return p @ p.T


# ---------------------------------------------------------------- chapter 3: dropout


@mistake("dropout-no-rescale", "check_dropout", "survivors not rescaled by 1/(1 - p)", "rescale", "1/(1", "scale")
def dropout_no_rescale(x, keep, p):
    return x * keep


@mistake("dropout-divide-by-p", "check_dropout", "survivors divided by p instead of 1 - p", "1 - p", "1-p", "1 − p")
def dropout_divide_by_p(x, keep, p):
    return x * keep / p


@mistake("dropout-multiply-keep-prob", "check_dropout", "survivors multiplied by 1 - p instead of divided", "divide", "multipl")
def dropout_multiply(x, keep, p):
    return x * keep * (1 - p)


@mistake("dropout-inverted-mask", "check_dropout", "mask inverted: the survivors are zeroed", "mask", "invert", "true")
def dropout_inverted_mask(x, keep, p):
    return x * ~keep / (1 - p)


@mistake("dropout-in-place", "check_dropout", "right values, but x modified in place", "in place", "in-place", "modif")
def dropout_in_place(x, keep, p):
    x[~keep] = 0
    return x.div_(1 - p)


# ---------------------------------------------------------------- chapter 3: shuffle_patches


@mistake("shuffle-includes-cls", "check_shuffle_patches", "whole sequence indexed by order: [CLS] lost", "[CLS]")
def shuffle_includes_cls(tokens, order):
    return tokens[:, order]


@mistake("shuffle-off-by-one", "check_shuffle_patches", "order used as token indices (without + 1)",
         "off by one", "+ 1", "shift", "offset")
def shuffle_off_by_one(tokens, order):
    return torch.cat([tokens[:, :1], tokens[:, order]], dim=1)


@mistake("shuffle-inverse", "check_shuffle_patches", "inverse permutation: input patch i sent to place order[i]", "inverse")
def shuffle_inverse(tokens, order):
    out = tokens.clone()
    out[:, 1 + order] = tokens[:, 1:]
    return out


@mistake("shuffle-feature-axis", "check_shuffle_patches", "reordered along the feature axis", "axis", "feature", "hidden")
def shuffle_feature_axis(tokens, order):
    return tokens[..., order]


# ---------------------------------------------------------------- chapter 4: attention_head


@mistake("head-no-scale", "check_attention_head", "no 1/sqrt(d) scale", "scale", "sqrt", "√")
def attention_head_no_scale(q, k, v):
    return (q @ k.transpose(-2, -1)).softmax(-1) @ v


@mistake("head-scale-by-d", "check_attention_head", "scaled by 1/d instead of 1/sqrt(d)", "sqrt", "√")
def attention_head_scale_d(q, k, v):
    return (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v


@mistake("head-softmax-queries", "check_attention_head", "softmax over the query axis (dim 1)", "axis", "dim", "column")
def attention_head_softmax_queries(q, k, v):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(1) @ v


@mistake("head-transpose-q", "check_attention_head", "q transposed instead of k: (d, d) scores", "transpose")
def attention_head_transpose_q(q, k, v):
    return (q.transpose(-2, -1) @ k / math.sqrt(q.shape[-1])).softmax(-1) @ v


@mistake("head-multiply-scale", "check_attention_head", "multiplied by sqrt(d) instead of divided", "divide", "multipl")
def attention_head_multiply(q, k, v):
    return (q @ k.transpose(-2, -1) * math.sqrt(q.shape[-1])).softmax(-1) @ v


@mistake("head-returns-weights", "check_attention_head", "returns the attention weights, not the mixed values",
         "value", "weights", "@ v")
def attention_head_returns_weights(q, k, v):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)


@mistake("head-dot-T", "check_attention_head", "k.T on a 3-D tensor (reverses all axes)", "transpose", ".T", "mT")
def attention_head_dot_t(q, k, v):
    return (q @ k.T / math.sqrt(q.shape[-1])).softmax(-1) @ v


# ---------------------------------------------------------------- chapter 4: split_heads / merge_heads


@mistake("split-no-permute", "check_split_heads", "reshaped straight to (B, heads, N, hd), no transpose",
         "permute", "transpose", "token")
def split_heads_no_permute(x, num_heads):
    b, n, d = x.shape
    return x.reshape(b, num_heads, n, d // num_heads)


@mistake("split-interleaved", "check_split_heads", "last axis split (hd, heads): head h gets every heads-th column",
         "interleav", "column", "stride")
def split_heads_interleaved(x, num_heads):
    b, n, d = x.shape
    return x.reshape(b, n, d // num_heads, num_heads).permute(0, 3, 1, 2)


@mistake("split-no-transpose", "check_split_heads", "returns (B, N, heads, hd), heads not moved in front",
         "transpose", "axis", "axes")
def split_heads_no_transpose(x, num_heads):
    b, n, d = x.shape
    return x.reshape(b, n, num_heads, d // num_heads)


@mistake("merge-no-transpose", "check_merge_heads", "reshaped straight to (B, N, D), heads not moved back",
         "transpose", "permute")
def merge_heads_no_transpose(x):
    b, h, n, hd = x.shape
    return x.reshape(b, n, h * hd)


@mistake("merge-interleaved", "check_merge_heads", "flattened (hd, heads): columns interleaved", "interleav", "order", "column")
def merge_heads_interleaved(x):
    b, h, n, hd = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, n, h * hd)


@mistake("merge-view-not-contiguous", "check_merge_heads", ".view after transpose (not contiguous): error",
         "contiguous", "view", "reshape")
def merge_heads_view(x):
    b, h, n, hd = x.shape
    return x.transpose(1, 2).view(b, n, h * hd)


# ---------------------------------------------------------------- chapter 4: multi_head_attention


def _mha(x, parts, *, out_proj=True, scale_dim=None, transpose_w=True, swap_kv=False, heads=None, qkv_bias=True,
         return_tuple=False):
    def proj(layer):
        w = layer.weight.T if transpose_w else layer.weight
        return x @ w + (layer.bias if qkv_bias else 0)

    b, n, d = x.shape
    h = parts.num_heads if heads is None else heads
    q, k, v = proj(parts.query), proj(parts.key), proj(parts.value)
    if swap_kv:
        k, v = v, k
    q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))
    scale = math.sqrt(scale_dim if scale_dim is not None else d // h)
    w = (q @ k.transpose(-2, -1) / scale).softmax(-1)
    ctx = (w @ v).transpose(1, 2).reshape(b, n, d)
    out = _lin(ctx, parts.attention_output) if out_proj else ctx
    return (out, w) if return_tuple else out


@mistake("mha-no-output-projection", "check_multi_head_attention", "output projection forgotten",
         "output projection", "attention_output")
def mha_no_out(x, parts):
    return _mha(x, parts, out_proj=False)


@mistake("mha-scale-by-D", "check_multi_head_attention", "scaled by sqrt(D) instead of sqrt(head_dim)",
         "head_dim", "head dim", "head's", "per head")
def mha_scale_d(x, parts):
    return _mha(x, parts, scale_dim=x.shape[-1])


@mistake("mha-weight-not-transposed", "check_multi_head_attention", "x @ W instead of x @ Wᵀ", "transpose")
def mha_weight_not_transposed(x, parts):
    return _mha(x, parts, transpose_w=False)


@mistake("mha-key-value-swapped", "check_multi_head_attention", "keys from parts.value and values from parts.key",
         "swap", "key", "value")
def mha_swap_kv(x, parts):
    return _mha(x, parts, swap_kv=True)


@mistake("mha-one-head", "check_multi_head_attention", "one head over all of D (never split)", "head")
def mha_one_head(x, parts):
    return _mha(x, parts, heads=1)


@mistake("mha-no-qkv-bias", "check_multi_head_attention", "Q, K, V biases forgotten", "bias")
def mha_no_bias(x, parts):
    return _mha(x, parts, qkv_bias=False)


@mistake("mha-returns-tuple", "check_multi_head_attention", "returns (output, weights), not the output", "tuple")
def mha_tuple(x, parts):
    return _mha(x, parts, return_tuple=True)


# ---------------------------------------------------------------- chapter 5: layer_norm


@mistake("ln-unbiased", "check_layer_norm", "unbiased variance (x.var(-1))", "unbiased", "biased")
def layer_norm_unbiased(x, weight, bias, eps):
    m = x.mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


@mistake("ln-eps-outside-sqrt", "check_layer_norm", "eps added to the std, outside the sqrt", "eps", "ε", "epsilon")
def layer_norm_eps_outside(x, weight, bias, eps):
    m = x.mean(-1, keepdim=True)
    s = ((x - m) ** 2).mean(-1, keepdim=True).sqrt()
    return (x - m) / (s + eps) * weight + bias


@mistake("ln-all-axes", "check_layer_norm", "statistics over the whole tensor, not each token", "axis", "last", "token")
def layer_norm_all_axes(x, weight, bias, eps):
    m = x.mean()
    v = ((x - m) ** 2).mean()
    return (x - m) / torch.sqrt(v + eps) * weight + bias


@mistake("ln-no-bias", "check_layer_norm", "β (bias) forgotten", "bias", "β", "beta")
def layer_norm_no_bias(x, weight, bias, eps):
    return _ln(x, weight, 0, eps)


@mistake("ln-weight-bias-swapped", "check_layer_norm", "γ and β swapped", "swap")
def layer_norm_swapped(x, weight, bias, eps):
    return _ln(x, bias, weight, eps)


@mistake("ln-no-centering", "check_layer_norm", "divided by the std without subtracting the mean", "mean", "centr", "center")
def layer_norm_no_centering(x, weight, bias, eps):
    v = x.var(-1, keepdim=True, unbiased=False)
    return x / torch.sqrt(v + eps) * weight + bias


@mistake("ln-in-place", "check_layer_norm", "right values, but x modified in place (x -= mean)", "in place", "in-place", "modif")
def layer_norm_in_place(x, weight, bias, eps):
    x -= x.mean(-1, keepdim=True)
    x /= torch.sqrt((x**2).mean(-1, keepdim=True) + eps)
    return x * weight + bias


# ---------------------------------------------------------------- chapter 5: batch_norm


def _bn(x, eps, dims, unbiased=False):
    m = x.mean(dims, keepdim=True)
    v = x.var(dims, keepdim=True, unbiased=unbiased)
    return (x - m) / torch.sqrt(v + eps)


@mistake("bn-tokens-only", "check_batch_norm", "statistics over the tokens of each image only (dim 1)",
         "axis", "axes", "0 and 1", "image")
def batch_norm_tokens_only(x, eps):
    return _bn(x, eps, 1)


@mistake("bn-unbiased", "check_batch_norm", "unbiased variance", "unbiased", "biased")
def batch_norm_unbiased(x, eps):
    return _bn(x, eps, (0, 1), unbiased=True)


@mistake("bn-is-layernorm", "check_batch_norm", "normalised over the features (LayerNorm's axis)", "layernorm", "axis", "last")
def batch_norm_last_axis(x, eps):
    return _bn(x, eps, -1)


@mistake("bn-batch-only", "check_batch_norm", "statistics over the images only (dim 0)", "axis", "axes", "0 and 1", "token")
def batch_norm_batch_only(x, eps):
    return _bn(x, eps, 0)


# ---------------------------------------------------------------- chapter 6: pre_norm_block / token_norms / post_norm_block


@mistake("pre-no-norm", "check_pre_norm_block", "norm never applied: x + sublayer(x)", "norm")
def pre_norm_no_norm(x, norm, sublayer):
    return x + sublayer(x)


@mistake("pre-residual-normed", "check_pre_norm_block", "residual adds norm(x), not the original x", "original", "residual")
def pre_norm_residual_normed(x, norm, sublayer):
    h = norm(x)
    return h + sublayer(h)


@mistake("pre-is-post", "check_pre_norm_block", "post-norm written: norm(x + sublayer(x))", "post-norm", "post")
def pre_norm_is_post(x, norm, sublayer):
    return norm(x + sublayer(x))


@mistake("pre-no-residual", "check_pre_norm_block", "residual forgotten: sublayer(norm(x))", "residual")
def pre_norm_no_residual(x, norm, sublayer):
    return sublayer(norm(x))


@mistake("norms-token-axis", "check_token_norms", "norm over the token axis (dim 2)", "axis", "hidden", "last")
def token_norms_token_axis(states):
    return states.norm(dim=2)


@mistake("norms-squared", "check_token_norms", "sum of squares, no square root", "square", "sqrt")
def token_norms_squared(states):
    return (states**2).sum(-1)


@mistake("norms-l1", "check_token_norms", "L1 norm (sum of absolute values)", "l1", "euclid", "absolute")
def token_norms_l1(states):
    return states.abs().sum(-1)


@mistake("norms-rms", "check_token_norms", "root mean square instead of the length", "rms", "mean", "sqrt(d)", "√d")
def token_norms_rms(states):
    return states.pow(2).mean(-1).sqrt()


@mistake("post-is-pre", "check_post_norm_block", "pre-norm written: x + sublayer(norm(x))", "pre-norm", "pre")
def post_norm_is_pre(x, norm, sublayer):
    return x + sublayer(norm(x))


@mistake("post-norm-sublayer-only", "check_post_norm_block", "only the sub-layer's output normalised: x + norm(sublayer(x))",
         "sum", "residual")
def post_norm_sublayer_only(x, norm, sublayer):
    return x + norm(sublayer(x))


@mistake("post-sublayer-reads-norm", "check_post_norm_block", "sub-layer reads norm(x): norm(x + sublayer(norm(x)))",
         "reads", "norm(x)", "normalised input")
def post_norm_sublayer_reads_norm(x, norm, sublayer):
    return norm(x + sublayer(norm(x)))


# ---------------------------------------------------------------- chapter 7: gelu


@mistake("gelu-tanh", "check_gelu", "tanh approximation", "tanh")
def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


@mistake("gelu-no-sqrt2", "check_gelu", "erf(x) instead of erf(x / sqrt 2)", "sqrt(2)", "√2", "sqrt 2")
def gelu_no_sqrt2(x):
    return 0.5 * x * (1 + torch.erf(x))


@mistake("gelu-no-half", "check_gelu", "the 0.5 forgotten: x(1 + erf(x/√2))", "0.5", "half", "twice", "factor 2", "2×")
def gelu_no_half(x):
    return x * (1 + torch.erf(x / math.sqrt(2)))


@mistake("gelu-no-x", "check_gelu", "returns Φ(x) without the factor x", "x·φ", "times x", "cdf", "Φ")
def gelu_no_x(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


@mistake("gelu-sigmoid", "check_gelu", "sigmoid approximation x·σ(1.702x)", "sigmoid", "approximation")
def gelu_sigmoid(x):
    return x * torch.sigmoid(1.702 * x)


@mistake("gelu-divide-by-2", "check_gelu", "erf(x / 2) instead of erf(x / sqrt 2)", "sqrt(2)", "√2", "sqrt 2")
def gelu_divide_by_2(x):
    return 0.5 * x * (1 + torch.erf(x / 2))


# ---------------------------------------------------------------- chapter 7: my_mlp


@mistake("mlp-no-gelu", "check_mlp", "GELU forgotten", "gelu", "activation")
def mlp_no_gelu(x, parts):
    return _lin(_lin(x, parts.mlp_in), parts.mlp_out)


@mistake("mlp-relu", "check_mlp", "ReLU instead of GELU", "relu")
def mlp_relu(x, parts):
    return _lin(torch.relu(_lin(x, parts.mlp_in)), parts.mlp_out)


@mistake("mlp-with-residual", "check_mlp", "residual added (x + MLP(x))", "residual")
def mlp_with_residual(x, parts):
    return x + _lin(_gelu(_lin(x, parts.mlp_in)), parts.mlp_out)


@mistake("mlp-gelu-twice", "check_mlp", "GELU after mlp_out too", "gelu", "after")
def mlp_gelu_twice(x, parts):
    return _gelu(_lin(_gelu(_lin(x, parts.mlp_in)), parts.mlp_out))


@mistake("mlp-tanh-gelu", "check_mlp", "tanh-approximate GELU", "tanh")
def mlp_tanh_gelu(x, parts):
    return _lin(gelu_tanh(_lin(x, parts.mlp_in)), parts.mlp_out)


@mistake("mlp-weight-not-transposed", "check_mlp", "x @ W instead of x @ Wᵀ (shape error)", "transpose")
def mlp_weight_not_transposed(x, parts):
    h = _gelu(x @ parts.mlp_in.weight + parts.mlp_in.bias)
    return h @ parts.mlp_out.weight + parts.mlp_out.bias


# ---------------------------------------------------------------- chapter 7: my_encoder_layer


def _layer(x, parts, *, second_residual=True, ln2=None, post=False, mlp_residual_from_x=False, parallel=False, mlp=True):
    from vit_tutorial.attention import self_attention

    ln2 = ln2 or parts.layernorm_after

    def my_mlp(h):
        return _lin(_gelu(_lin(h, parts.mlp_in)), parts.mlp_out)

    if post:
        h = parts.layernorm_before(x + self_attention(x, parts)[0])
        return ln2(h + my_mlp(h))
    if parallel:
        return x + self_attention(parts.layernorm_before(x), parts)[0] + my_mlp(ln2(x))
    h = x + self_attention(parts.layernorm_before(x), parts)[0]
    if not mlp:
        return h
    m = my_mlp(ln2(h))
    if not second_residual:
        return m
    return (x if mlp_residual_from_x else h) + m


@mistake("layer-no-second-residual", "check_encoder_layer", "the MLP's residual forgotten", "residual")
def encoder_layer_no_second_residual(x, parts):
    return _layer(x, parts, second_residual=False)


@mistake("layer-layernorm-before-twice", "check_encoder_layer", "layernorm_before used in front of the MLP too",
         "layernorm_after", "layernorm")
def encoder_layer_ln_before_twice(x, parts):
    return _layer(x, parts, ln2=parts.layernorm_before)


@mistake("layer-post-norm", "check_encoder_layer", "post-norm layer", "post-norm", "pre-norm")
def encoder_layer_post_norm(x, parts):
    return _layer(x, parts, post=True)


@mistake("layer-mlp-residual-from-input", "check_encoder_layer", "MLP's residual adds the layer's input x, not the attention block's output",
         "residual", "attention block")
def encoder_layer_residual_from_x(x, parts):
    return _layer(x, parts, mlp_residual_from_x=True)


@mistake("layer-parallel", "check_encoder_layer", "MLP reads LN(x), in parallel with attention, not after it",
         "parallel", "after the attention", "attention's output", "sequential")
def encoder_layer_parallel(x, parts):
    return _layer(x, parts, parallel=True)


@mistake("layer-no-mlp", "check_encoder_layer", "returns after the attention block: MLP forgotten", "mlp")
def encoder_layer_no_mlp(x, parts):
    return _layer(x, parts, mlp=False)


# ---------------------------------------------------------------- chapter 8: image_summary / mean_pool / vit_pooler


@mistake("summary-mean-tokens", "check_image_summary", "mean of the tokens instead of [CLS]", "[CLS]", "mean")
def image_summary_mean(hidden, weight, bias, eps):
    return _ln(hidden, weight, bias, eps).mean(1)


@mistake("summary-no-layernorm", "check_image_summary", "final LayerNorm forgotten", "layernorm")
def image_summary_no_ln(hidden, weight, bias, eps):
    return hidden[:, 0]


@mistake("summary-unbiased", "check_image_summary", "unbiased variance", "unbiased", "biased")
def image_summary_unbiased(hidden, weight, bias, eps):
    x = hidden[:, 0]
    m = x.mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


@mistake("summary-last-token", "check_image_summary", "the last token instead of token 0", "[CLS]", "token 0", "first")
def image_summary_last(hidden, weight, bias, eps):
    return _ln(hidden, weight, bias, eps)[:, -1]


@mistake("meanpool-with-cls", "check_mean_pool", "[CLS] included in the average", "[CLS]", "cls")
def mean_pool_with_cls(hidden):
    return hidden.mean(1)


@mistake("meanpool-feature-axis", "check_mean_pool", "mean over the feature axis", "axis")
def mean_pool_feature_axis(hidden):
    return hidden[:, 1:].mean(-1)


@mistake("meanpool-sum", "check_mean_pool", "sum instead of mean", "sum", "divide", "mean")
def mean_pool_sum(hidden):
    return hidden[:, 1:].sum(1)


@mistake("meanpool-drops-last", "check_mean_pool", "hidden[:, 1:-1]: last patch dropped too", "last", "off by one")
def mean_pool_drops_last(hidden):
    return hidden[:, 1:-1].mean(1)


@mistake("pooler-no-tanh", "check_vit_pooler", "tanh forgotten", "tanh")
def vit_pooler_no_tanh(hidden, weight, bias):
    return hidden[:, 0] @ weight.T + bias


@mistake("pooler-not-transposed", "check_vit_pooler", "x @ W instead of x @ Wᵀ", "transpose")
def vit_pooler_not_transposed(hidden, weight, bias):
    return torch.tanh(hidden[:, 0] @ weight + bias)


@mistake("pooler-mean-tokens", "check_vit_pooler", "mean of the tokens instead of [CLS]", "[CLS]", "mean")
def vit_pooler_mean(hidden, weight, bias):
    return torch.tanh(hidden.mean(1) @ weight.T + bias)


@mistake("pooler-tanh-first", "check_vit_pooler", "tanh applied before the dense layer", "tanh", "order", "before")
def vit_pooler_tanh_first(hidden, weight, bias):
    return torch.tanh(hidden[:, 0]) @ weight.T + bias


@mistake("pooler-no-bias", "check_vit_pooler", "bias forgotten", "bias")
def vit_pooler_no_bias(hidden, weight, bias):
    return torch.tanh(hidden[:, 0] @ weight.T)


# ---------------------------------------------------------------- chapter 9: classifier / softmax


@mistake("classifier-not-transposed", "check_classifier", "summary @ weight (shape error)", "transpose")
def classifier_not_transposed(summary, weight, bias):
    return summary @ weight + bias


@mistake("classifier-no-bias", "check_classifier", "bias forgotten", "bias")
def classifier_no_bias(summary, weight, bias):
    return summary @ weight.T


@mistake("classifier-returns-CB", "check_classifier", "weight @ summary.T: (C, B) returned", "transpose", "(B, C)", "swapped")
def classifier_cb(summary, weight, bias):
    return weight @ summary.T + bias[:, None]


@mistake("classifier-softmax", "check_classifier", "probabilities returned instead of logits", "softmax", "probabilit")
def classifier_softmax(summary, weight, bias):
    return (summary @ weight.T + bias).softmax(-1)


@mistake("classifier-float64", "check_classifier", "computed and returned in float64", "dtype", "float64", "double")
def classifier_float64(summary, weight, bias):
    return summary.double() @ weight.double().T + bias.double()


@mistake("softmax-no-max", "check_softmax", "no max subtraction: overflows", "overflow", "max")
def softmax_no_max(logits):
    e = logits.exp()
    return e / e.sum(-1, keepdim=True)


@mistake("softmax-columns", "check_softmax", "normalised over the batch axis", "axis", "row", "column")
def softmax_columns(logits):
    e = (logits - logits.max(0, keepdim=True).values).exp()
    return e / e.sum(0, keepdim=True)


@mistake("softmax-global-max", "check_softmax", "one max over the whole batch, not each row's", "row", "each row")
def softmax_global_max(logits):
    e = (logits - logits.max()).exp()
    return e / e.sum(-1, keepdim=True)


@mistake("softmax-subtract-min", "check_softmax", "subtracts the row minimum: still overflows", "max", "overflow")
def softmax_min(logits):
    e = (logits - logits.min(-1, keepdim=True).values).exp()
    return e / e.sum(-1, keepdim=True)


@mistake("softmax-log", "check_softmax", "returns log-probabilities", "log")
def softmax_log(logits):
    z = logits - logits.max(-1, keepdim=True).values
    return z - z.exp().sum(-1, keepdim=True).log()


@mistake("softmax-in-place", "check_softmax", "right values, but logits modified in place", "in place", "in-place", "modif")
def softmax_in_place(logits):
    logits -= logits.max(-1, keepdim=True).values
    logits.exp_()
    return logits / logits.sum(-1, keepdim=True)


# ---------------------------------------------------------------- chapter 9: the capstone


def _vit(pixels, model, *, final_ln=True, pool="cls", gelu=_gelu, positions=True, post=False, skip_last=False):
    from vit_tutorial.bridge import encoder_layers, layer_parts, vit_model

    vit = vit_model(model)
    emb = vit.embeddings
    w, b = emb.patch_embeddings.projection.weight, emb.patch_embeddings.projection.bias
    x = _patchify(pixels, w.shape[-1]) @ w.reshape(w.shape[0], -1).T + b
    x = torch.cat([emb.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
    if positions:
        x = x + emb.position_embeddings
    eps = model.config.layer_norm_eps
    n = len(encoder_layers(model)) - (1 if skip_last else 0)
    for i in range(n):
        p = layer_parts(model, i)

        def ln(t, m):
            return _ln(t, m.weight, m.bias, eps)

        def attn(t):
            return _mha(t, p)

        def mlp(t):
            return _lin(gelu(_lin(t, p.mlp_in)), p.mlp_out)

        if post:
            x = ln(x + attn(x), p.layernorm_before)
            x = ln(x + mlp(x), p.layernorm_after)
        else:
            x = x + attn(ln(x, p.layernorm_before))
            x = x + mlp(ln(x, p.layernorm_after))
    if final_ln:
        x = _ln(x, vit.layernorm.weight, vit.layernorm.bias, eps)
    s = x[:, 0] if pool == "cls" else x[:, 1:].mean(1)
    return s @ model.classifier.weight.T + model.classifier.bias


@mistake("vit-no-final-ln", "check_vit_forward", "final LayerNorm forgotten", "final layernorm", "final LayerNorm")
def vit_no_final_ln(pixels, model):
    return _vit(pixels, model, final_ln=False)


@mistake("vit-mean-pool", "check_vit_forward", "mean of the patch tokens instead of [CLS]", "[CLS]", "pool")
def vit_mean_pool(pixels, model):
    return _vit(pixels, model, pool="mean")


@mistake("vit-tanh-gelu", "check_vit_forward", "tanh GELU in the MLPs", "tanh", "gelu")
def vit_tanh_gelu(pixels, model):
    return _vit(pixels, model, gelu=gelu_tanh)


@mistake("vit-no-positions", "check_vit_forward", "position embeddings forgotten", "position")
def vit_no_positions(pixels, model):
    return _vit(pixels, model, positions=False)


@mistake("vit-post-norm", "check_vit_forward", "post-norm layers", "post-norm", "pre-norm")
def vit_post_norm(pixels, model):
    return _vit(pixels, model, post=True)


@mistake("vit-skips-last-layer", "check_vit_forward", "range(n - 1): the last layer skipped", "layer")
def vit_skip_last(pixels, model):
    return _vit(pixels, model, skip_last=True)


# ---------------------------------------------------------------- chapter 10: cross_entropy / freeze_for_probe


@mistake("ce-sum", "check_cross_entropy", "sum over the batch instead of the mean", "sum", "mean")
def cross_entropy_sum(logits, labels):
    return -logits.log_softmax(-1)[torch.arange(len(labels)), labels].sum()


@mistake("ce-unstable", "check_cross_entropy", "log of exp / sum exp: overflows for large logits",
         "large", "overflow", "stab", "log_softmax", "log-softmax")
def cross_entropy_unstable(logits, labels):
    p = logits.exp() / logits.exp().sum(-1, keepdim=True)
    return -p[torch.arange(len(labels)), labels].log().mean()


@mistake("ce-no-minus", "check_cross_entropy", "minus sign forgotten", "sign", "minus", "negative")
def cross_entropy_no_minus(logits, labels):
    return logits.log_softmax(-1)[torch.arange(len(labels)), labels].mean()


@mistake("ce-index-columns", "check_cross_entropy", "[:, labels] picks a (B, B) block, not each row's class",
         "each row", "true class", "gather", "arange")
def cross_entropy_columns(logits, labels):
    return -logits.log_softmax(-1)[:, labels].mean()


@mistake("ce-softmax-over-batch", "check_cross_entropy", "log-softmax over the batch axis", "axis", "dim", "classes")
def cross_entropy_batch_axis(logits, labels):
    return -logits.log_softmax(0)[torch.arange(len(labels)), labels].mean()


@mistake("freeze-everything", "check_freeze_for_probe", "the classifier frozen too", "classifier")
def freeze_everything(model):
    for _, p in model.named_parameters():
        p.requires_grad = False


@mistake("freeze-nothing-else", "check_freeze_for_probe", "classifier set trainable, nothing else frozen",
         "frozen", "requires_grad", "false", "trainable")
def freeze_nothing_else(model):
    for name, p in model.named_parameters():
        if name.startswith("classifier"):
            p.requires_grad = True


@mistake("freeze-classifier-bias", "check_freeze_for_probe", "only classifier.weight left trainable, its bias frozen", "bias")
def freeze_classifier_bias(model):
    for name, p in model.named_parameters():
        p.requires_grad = name == "classifier.weight"


# ---------------------------------------------------------------- appendix A2: digits_to_pixels / variant_config


def _digits(images, size, *, scale=16.0, mode="bilinear", align=False, normalise=True, mean=0.5, std=0.5, mul_std=False,
            channels_last=False):
    x = (images / scale)[:, None]
    kwargs = {} if mode == "nearest" else {"align_corners": align}
    x = F.interpolate(x, size=(size, size), mode=mode, **kwargs)
    if normalise:
        x = (x - mean) * std if mul_std else (x - mean) / std
    x = x.expand(-1, 3, -1, -1)
    return x.permute(0, 2, 3, 1) if channels_last else x


@mistake("digits-no-scaling", "check_digits_to_pixels", "values 0..16 not divided by 16", "16", "[0, 1]", "scale")
def digits_no_scaling(images, size):
    return _digits(images, size, scale=1.0)


@mistake("digits-divide-255", "check_digits_to_pixels", "divided by 255, as for 8-bit images", "16", "255")
def digits_255(images, size):
    return _digits(images, size, scale=255.0)


@mistake("digits-nearest", "check_digits_to_pixels", "nearest-neighbour upscaling", "bilinear", "nearest", "interpolat")
def digits_nearest(images, size):
    return _digits(images, size, mode="nearest")


@mistake("digits-align-corners", "check_digits_to_pixels", "align_corners=True", "align_corners")
def digits_align_corners(images, size):
    return _digits(images, size, align=True)


@mistake("digits-not-normalised", "check_digits_to_pixels", "mean/std normalisation forgotten", "normalis", "normaliz", "0.5")
def digits_not_normalised(images, size):
    return _digits(images, size, normalise=False)


@mistake("digits-channels-last", "check_digits_to_pixels", "returned (N, size, size, 3)", "channel")
def digits_channels_last(images, size):
    return _digits(images, size, channels_last=True)


@mistake("digits-multiply-std", "check_digits_to_pixels", "multiplied by the std instead of divided", "divide", "std",
         "standard deviation")
def digits_multiply_std(images, size):
    return _digits(images, size, mul_std=True)


@mistake("variant-heads-for-depth", "check_variant_config", "depth written into num_attention_heads", "num_hidden_layers", "layers")
def variant_heads_for_depth(patch_size, depth):
    from vit_tutorial import tiny

    return tiny.tiny_config(patch_size=patch_size, num_attention_heads=depth)


@mistake("variant-depth-forgotten", "check_variant_config", "only the patch size changed", "num_hidden_layers", "layers", "depth")
def variant_depth_forgotten(patch_size, depth):
    from vit_tutorial import tiny

    return tiny.tiny_config(patch_size=patch_size)


@mistake("variant-from-scratch", "check_variant_config", "a fresh ViTConfig: every other field at ViT-B's defaults",
         "tiny_config", "hidden_size", "other fields")
def variant_from_scratch(patch_size, depth):
    from transformers import ViTConfig

    return ViTConfig(patch_size=patch_size, num_hidden_layers=depth)


@mistake("variant-swapped", "check_variant_config", "patch size and depth swapped", "swap", "patch_size")
def variant_swapped(patch_size, depth):
    from vit_tutorial import tiny

    return tiny.tiny_config(patch_size=depth, num_hidden_layers=patch_size)


# ---------------------------------------------------------------- correct answers written another way


@dataclass(frozen=True)
class Variant:
    id: str
    check: str
    fn: Callable
    what: str


CORRECT_VARIANTS: list[Variant] = []


def correct(id: str, check: str, what: str):
    def add(fn):
        CORRECT_VARIANTS.append(Variant(id, check, fn, what))
        return fn

    return add


@correct("shapes-torch-size", "check_stage_shapes", "shapes as torch.Size (a tuple subclass)")
def stage_shapes_size(config, batch):
    return {k: torch.Size(v) for k, v in _shapes(config, batch).items()}


@correct("patchify-unfold", "check_patchify", "F.unfold, transposed")
def patchify_unfold_t(pixels, patch_size):
    return F.unfold(pixels, kernel_size=patch_size, stride=patch_size).transpose(1, 2)


@correct("embed-repeat", "check_embed", "cls_token.repeat instead of expand")
def embed_repeat(patch_embeddings, cls_token, position_embeddings):
    return torch.cat([cls_token.repeat(patch_embeddings.shape[0], 1, 1), patch_embeddings], 1) + position_embeddings


@correct("possim-cosine", "check_position_similarity", "F.cosine_similarity with broadcasting")
def position_similarity_cosine(position_embeddings):
    p = position_embeddings[0, 1:]
    return F.cosine_similarity(p[:, None], p[None, :], dim=-1)


@correct("dropout-where", "check_dropout", "torch.where")
def dropout_where(x, keep, p):
    return torch.where(keep, x / (1 - p), torch.zeros_like(x))


@correct("shuffle-index-select", "check_shuffle_patches", "index_select on the patches")
def shuffle_index_select(tokens, order):
    return torch.cat([tokens[:, :1], tokens[:, 1:].index_select(1, order)], dim=1)


@correct("head-mT", "check_attention_head", "k.mT and torch.softmax")
def attention_head_mt(q, k, v):
    return torch.softmax(q @ k.mT / math.sqrt(q.shape[-1]), dim=-1) @ v


@correct("split-view-permute", "check_split_heads", "view + permute")
def split_heads_view(x, num_heads):
    b, n, d = x.shape
    return x.view(b, n, num_heads, -1).permute(0, 2, 1, 3)


@correct("merge-permute-contiguous", "check_merge_heads", "permute + contiguous + view")
def merge_heads_contiguous(x):
    b, h, n, hd = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(b, n, -1)


@correct("mha-by-hand", "check_multi_head_attention", "weights and biases by hand, one head loop")
def mha_loop(x, parts):
    b, n, d = x.shape
    hd = d // parts.num_heads
    q, k, v = (_lin(x, lin) for lin in (parts.query, parts.key, parts.value))
    outs = []
    for h in range(parts.num_heads):
        s = slice(h * hd, (h + 1) * hd)
        outs.append(torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / hd**0.5, -1) @ v[..., s])
    return _lin(torch.cat(outs, dim=-1), parts.attention_output)


@correct("ln-var-mean-rsqrt", "check_layer_norm", "torch.var_mean and rsqrt")
def layer_norm_rsqrt(x, weight, bias, eps):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


@correct("bn-flatten", "check_batch_norm", "statistics of x.reshape(-1, D)")
def batch_norm_flat(x, eps):
    flat = x.reshape(-1, x.shape[-1])
    return (x - flat.mean(0)) / (flat.var(0, unbiased=False) + eps).sqrt()


@correct("norms-linalg", "check_token_norms", "torch.linalg.vector_norm")
def token_norms_linalg(states):
    return torch.linalg.vector_norm(states, dim=-1)


@correct("gelu-erfc", "check_gelu", "x·Φ(x) written with erfc")
def gelu_erfc(x):
    return 0.5 * x * torch.erfc(-x / math.sqrt(2))


@correct("layer-two-steps", "check_encoder_layer", "the two blocks as separate statements")
def encoder_layer_steps(x, parts):
    from vit_tutorial.attention import self_attention

    attn = self_attention(parts.layernorm_before(x), parts)[0]
    x = x + attn
    return x + _lin(_gelu(_lin(parts.layernorm_after(x), parts.mlp_in)), parts.mlp_out)


@correct("summary-cls-first", "check_image_summary", "[CLS] taken first, then normalised")
def image_summary_cls_first(hidden, weight, bias, eps):
    return _ln(hidden[:, 0], weight, bias, eps)


@correct("meanpool-sum-divide", "check_mean_pool", "sum divided by the number of patches")
def mean_pool_sum_divide(hidden):
    return hidden[:, 1:].sum(1) / (hidden.shape[1] - 1)


@correct("pooler-addmm", "check_vit_pooler", "torch.addmm")
def vit_pooler_addmm(hidden, weight, bias):
    return torch.tanh(torch.addmm(bias, hidden[:, 0], weight.T))


@correct("softmax-logsumexp", "check_softmax", "exp(logits - logsumexp)")
def softmax_logsumexp(logits):
    return (logits - logits.logsumexp(-1, keepdim=True)).exp()


@correct("ce-logsumexp-gather", "check_cross_entropy", "logsumexp minus the gathered logit")
def cross_entropy_gather(logits, labels):
    return (logits.logsumexp(-1) - logits.gather(1, labels[:, None])[:, 0]).mean()


@correct("freeze-no-return", "check_freeze_for_probe", "flags set, nothing returned")
def freeze_no_return(model):
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.")


@correct("digits-expand", "check_digits_to_pixels", "the channel copied with expand (a view)")
def digits_expand(images, size):
    return _digits(images, size)


@correct("variant-set-fields", "check_variant_config", "tiny_config() then two attributes set")
def variant_set_fields(patch_size, depth):
    from vit_tutorial import tiny

    config = tiny.tiny_config()
    config.patch_size = patch_size
    config.num_hidden_layers = depth
    return config
