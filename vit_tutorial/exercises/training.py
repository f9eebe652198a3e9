"""Self-checks for chapter 10 (training and fine-tuning): ``check_cross_entropy``, ``check_freeze_for_probe``."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import Case, ExerciseNotDone, _record, fail, run_check
from ._forbidden import CROSS_ENTROPY

# --- the loss ----------------------------------------------------------------------------------------------


def _nll_of(probabilities_or_logs, labels):
    return probabilities_or_logs.gather(1, labels[:, None]).squeeze(1)


CROSS_ENTROPY_MISTAKES = {
    "you summed the losses of the batch; HuggingFace (and F.cross_entropy) take the mean over the batch":
        lambda logits, labels: F.cross_entropy(logits, labels, reduction="sum"),
    "the sign is wrong: the loss is MINUS the log-probability of the right class (it must be >= 0)":
        lambda logits, labels: -F.cross_entropy(logits, labels),
    "you used the probability of the right class, not its logarithm: take log_softmax (or log of softmax)":
        lambda logits, labels: -_nll_of(logits.softmax(-1), labels).mean(),
    "you took 1 - probability instead of -log(probability)":
        lambda logits, labels: (1 - _nll_of(logits.softmax(-1), labels)).mean(),
    "the softmax runs over the batch axis (dim=0); it must run over the classes of each row (dim=-1)":
        lambda logits, labels: -_nll_of(logits.log_softmax(0), labels).mean(),
    "you indexed with [:, labels], which takes every row's log-probabilities of ALL the batch's labels (a B x B "
    "block): pick one entry per row, log_probs[torch.arange(B), labels] (or .gather(1, labels[:, None]))":
        lambda logits, labels: -logits.log_softmax(-1)[:, labels].mean(),
    "you read the log-probability of the class with the highest logit, not of the true label":
        lambda logits, labels: -_nll_of(logits.log_softmax(-1), logits.argmax(-1)).mean(),
}


def check_cross_entropy(fn):
    """Check ``fn(logits (B, K), labels (B,)) -> scalar``: the mean cross-entropy, safe for large logits."""
    g = torch.Generator().manual_seed(1010)
    cases = []
    for b, k in ((4, 10), (7, 3), (1, 1000)):
        logits = torch.randn(b, k, generator=g) * 3
        labels = torch.randint(0, k, (b,), generator=g)
        cases.append(Case((logits, labels), F.cross_entropy(logits, labels), f"random logits of shape ({b}, {k})"))
    result = run_check("cross_entropy", fn, cases, mistakes=CROSS_ENTROPY_MISTAKES, rtol=1e-5, atol=1e-6, quiet=True,
                       forbidden=(CROSS_ENTROPY,))
    # Large logits: exp overflows in float32 unless each row's maximum is subtracted first.
    big = torch.tensor([[1000.0, 990.0, 0.0], [-50.0, 200.0, 199.0]])
    labels = torch.tensor([1, 2])
    try:
        got = fn(big.clone(), labels.clone())
    except NotImplementedError:  # pragma: no cover - the first cases would have caught it
        raise ExerciseNotDone("cross_entropy is not written yet") from None
    except Exception as err:  # noqa: BLE001
        raise fail("cross_entropy", f"your function raised {type(err).__name__}: {err}  (on logits as large as 1000)") from None
    want = F.cross_entropy(big, labels)
    if not isinstance(got, torch.Tensor) or not torch.isfinite(got).all():
        raise fail("cross_entropy", "on logits as large as 1000 your loss is not a finite number: exp(1000) overflows. "
                   "Subtract each row's largest logit before exp (it cancels in the softmax), or use log_softmax")
    if not torch.allclose(got.to(want.dtype), want, rtol=1e-5, atol=1e-5):
        raise fail("cross_entropy", f"on logits as large as 1000 you get {got.item():.6g}, expected {want.item():.6g}")
    message = result.message + ", and logits as large as 1000 (no overflow)"
    _record("cross_entropy", True, message, "passed")
    print(f"✔ cross_entropy: {message}.")
    return result


# --- freezing for a linear probe -------------------------------------------------------------------------


def _small_vit(num_labels: int, depth: int):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=16, patch_size=8, hidden_size=16, num_hidden_layers=depth, num_attention_heads=2,
                       intermediate_size=32, num_labels=num_labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return ViTForImageClassification(config)


def _flags(model) -> torch.Tensor:
    return torch.tensor([float(p.requires_grad) for _, p in model.named_parameters()])


def _expected(model, trained) -> torch.Tensor:
    return torch.tensor([float(trained(name)) for name, _ in model.named_parameters()])


def _apply_and_read(fn):
    def run(num_labels, depth):
        model = _small_vit(num_labels, depth)
        returned = fn(model)
        if returned is not None and returned is not model and isinstance(returned, torch.nn.Module):
            model = returned
        return _flags(model)

    return run


FREEZE_MISTAKES = {
    "everything is frozen, the new head too: a linear probe trains the classifier (requires_grad=True)":
        lambda n, d: _expected(_small_vit(n, d), lambda name: False),
    "nothing is frozen: that is full fine-tuning; set requires_grad=False on every parameter outside `classifier`":
        lambda n, d: _expected(_small_vit(n, d), lambda name: True),
    "it is the other way round: the classifier must train and the rest must be frozen":
        lambda n, d: _expected(_small_vit(n, d), lambda name: not name.startswith("classifier.")),
    "the final LayerNorm (vit.layernorm) is still trained; in a linear probe the features must not change":
        lambda n, d: _expected(_small_vit(n, d), lambda name: name.startswith(("classifier.", "vit.layernorm."))),
    "only the classifier's weight trains; its bias belongs to the linear head too":
        lambda n, d: _expected(_small_vit(n, d), lambda name: name == "classifier.weight"),
}


def check_freeze_for_probe(fn):
    """Check ``fn(model)``: afterwards only the parameters of ``model.classifier`` require gradients."""
    cases = [
        Case((n, d), _expected(_small_vit(n, d), lambda name: name.startswith("classifier.")),
             f"a small ViTForImageClassification with {d} layer(s) and {n} labels")
        for n, d in ((4, 1), (10, 2))
    ]
    result = run_check("freeze_for_probe", _apply_and_read(fn) if callable(fn) else fn, cases,
                       mistakes=FREEZE_MISTAKES, rtol=0, atol=0, quiet=True)
    print(f"✔ freeze_for_probe: {result.message}: only classifier.weight and classifier.bias require gradients.")
    return result
