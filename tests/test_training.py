"""Chapter 10's helpers: the loss equals HuggingFace's, freezing, the tasks, the training loops."""
import pytest
import torch
import torch.nn.functional as F

from vit_tutorial import tiny, training
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_cross_entropy, check_freeze_for_probe


@pytest.fixture(scope="module")
def tiny_model():
    return tiny.load_tiny()


@pytest.fixture(scope="module")
def split():
    return tiny.load_digits_split()


def test_cross_entropy_equals_huggingfaces_loss(tiny_model, split):
    pixels, labels = tiny.digits_to_pixels(split.test_images[:16]), split.test_labels[:16]
    with torch.no_grad():
        out = tiny_model(pixels, labels=labels)
    torch.testing.assert_close(training.cross_entropy(out.logits, labels), out.loss, rtol=1e-6, atol=1e-7)


def test_cross_entropy_survives_large_logits():
    logits = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]])
    labels = torch.tensor([0, 1])
    torch.testing.assert_close(training.cross_entropy(logits, labels), F.cross_entropy(logits, labels))
    assert torch.isfinite(training.cross_entropy(logits, labels))


def test_cross_entropy_bad_shapes_are_clear():
    with pytest.raises(ValueError, match="batch, classes"):
        training.cross_entropy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be"):
        training.cross_entropy(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))


def _scratch(pixels, model):
    from vit_tutorial import scratch

    return scratch.vit_forward(pixels, model, grad=True)


def test_scratch_gradients_equal_huggingfaces(tiny_model, split):
    """Chapter 10: the from-scratch forward gives every parameter the gradient HuggingFace's forward gives it."""
    pixels, labels = tiny.digits_to_pixels(split.test_images[:8]), split.test_labels[:8]
    theirs = training.parameter_gradients(tiny_model, pixels, labels)
    ours = training.parameter_gradients(tiny_model, pixels, labels, forward=_scratch)
    assert set(theirs) == {name for name, _ in tiny_model.named_parameters()}
    assert all(p.grad is None for p in tiny_model.parameters())  # nothing left behind
    margins = training.assert_same_gradients(ours, theirs)
    assert max(margins.values()) < 0.5, max(margins.items(), key=lambda kv: kv[1])
    # the keys' bias gets no gradient: softmax ignores a shift of a whole row of scores (chapter 4)
    key_biases = [name for name in theirs if "bias" in name and ("k_proj" in name or ".key." in name)]
    assert len(key_biases) == tiny_model.config.num_hidden_layers
    for name in key_biases:
        assert theirs[name].abs().max() < 1e-6 * theirs["classifier.bias"].abs().max()


def test_gradient_check_can_fail(tiny_model, split):
    """A forward that leaves out the classifier's bias changes every gradient: the check says which."""
    pixels, labels = tiny.digits_to_pixels(split.test_images[:8]), split.test_labels[:8]
    theirs = training.parameter_gradients(tiny_model, pixels, labels)
    wrong = training.parameter_gradients(tiny_model, pixels, labels,
                                         forward=lambda px, m: _scratch(px, m) - m.classifier.bias)
    with pytest.raises(AssertionError, match=r"gradient of \S+ \(in units of"):
        training.assert_same_gradients(wrong, theirs)
    with pytest.raises(AssertionError, match="different parameters have gradients"):
        training.assert_same_gradients({k: v for k, v in theirs.items() if k != "classifier.bias"}, theirs)


def test_gradient_units_have_a_floor():
    units = training.gradient_units({"a": torch.full((4,), 1e-2), "b": torch.zeros(3)})
    torch.testing.assert_close(units["a"], torch.tensor(1e-2))
    torch.testing.assert_close(units["b"], torch.tensor(1e-4))  # 1 % of the largest


def test_freeze_all_but_head_leaves_only_the_classifier(tiny_model):
    from transformers import ViTForImageClassification

    model = ViTForImageClassification(tiny_model.config)
    assert training.freeze_all_but_head(model) == ["classifier.weight", "classifier.bias"]
    assert training.trainable_names(model) == ["classifier.weight", "classifier.bias"]


def test_rotation_task_shapes_and_labels(split):
    train_x, train_y, test_x, test_y = training.rotation_task(split)
    assert train_x.shape == (4 * len(split.train_labels), 3, 32, 32)
    assert test_x.shape == (4 * len(split.test_labels), 3, 32, 32)
    assert torch.equal(test_y.bincount(), torch.full((4,), len(split.test_labels)))
    # label k is the digit turned k quarter turns: the first block is the upright test digits
    torch.testing.assert_close(test_x[: len(split.test_labels)], tiny.digits_to_pixels(split.test_images))
    turned = tiny.digits_to_pixels(torch.rot90(split.test_images, 1, dims=(-2, -1)))
    torch.testing.assert_close(test_x[len(split.test_labels) : 2 * len(split.test_labels)], turned)


def test_cls_features_are_what_the_classifier_reads(tiny_model, split):
    pixels = tiny.digits_to_pixels(split.test_images[:8])
    features = training.cls_features(tiny_model, pixels)
    with torch.no_grad():
        logits = tiny_model(pixels).logits
    torch.testing.assert_close(tiny_model.classifier(features), logits, rtol=1e-5, atol=1e-5)


def test_accuracy_passes_interpolate_pos_encoding(tiny_model, split):
    pixels = tiny.digits_to_pixels(split.test_images[:32], 48)
    with pytest.raises(ValueError):
        training.accuracy(tiny_model, pixels, split.test_labels[:32])
    assert 0.0 <= training.accuracy(tiny_model, pixels, split.test_labels[:32], interpolate_pos_encoding=True) <= 1.0


def test_accuracy_rejects_mismatched_lengths(tiny_model, split):
    with pytest.raises(ValueError, match="labels"):
        training.accuracy(tiny_model, tiny.digits_to_pixels(split.test_images[:4]), split.test_labels[:3])


def test_fit_trains_only_what_requires_grad_and_is_reproducible(tiny_model, split):
    from transformers import ViTForImageClassification

    pixels, labels = tiny.digits_to_pixels(split.train_images[:64]), split.train_labels[:64]
    runs = []
    for _ in range(2):
        model = ViTForImageClassification(tiny_model.config)
        model.load_state_dict(tiny_model.state_dict())
        training.freeze_all_but_head(model)
        run = training.fit(model, pixels, labels, steps=3, batch_size=8)
        runs.append((model, run))
    (a, run_a), (b, run_b) = runs
    assert run_a.losses == run_b.losses and run_a.steps == 3
    torch.testing.assert_close(a.classifier.weight, b.classifier.weight, rtol=0, atol=0)
    assert not torch.equal(a.classifier.weight, tiny_model.classifier.weight)
    torch.testing.assert_close(a.vit.layernorm.weight, tiny_model.vit.layernorm.weight, rtol=0, atol=0)


def test_fit_with_nothing_to_train_is_a_clear_error(tiny_model, split):
    from transformers import ViTForImageClassification

    model = ViTForImageClassification(tiny_model.config)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        training.fit(model, tiny.digits_to_pixels(split.train_images[:8]), split.train_labels[:8], steps=1)


def test_linear_probe_learns_a_separable_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = (x[:, 0] > 0).long()
    head = training.linear_probe(x, y, num_classes=2, steps=200)
    assert (head(x).argmax(-1) == y).float().mean() > 0.95


def test_small_cnn_shapes():
    assert training.SmallCNN(num_classes=7, width=8)(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


# --- the exercises' self-checks can fail ------------------------------------------------------------------

def _cross_entropy_sum(logits, labels):
    return F.cross_entropy(logits, labels, reduction="sum")


def _cross_entropy_naive(logits, labels):
    probs = logits.exp() / logits.exp().sum(-1, keepdim=True)
    return -probs[torch.arange(len(labels)), labels].log().mean()


def test_check_cross_entropy_accepts_the_right_answer_and_diagnoses_mistakes():
    def by_hand(logits, labels):  # F.cross_entropy itself is a forbidden built-in in this exercise
        log_p = logits - logits.logsumexp(dim=-1, keepdim=True)
        return -log_p.gather(-1, labels[:, None]).mean()

    assert check_cross_entropy(by_hand)
    with pytest.raises(CheckFailed, match="no credit"):
        check_cross_entropy(lambda logits, labels: F.cross_entropy(logits, labels))
    with pytest.raises(CheckFailed, match="summed"):
        check_cross_entropy(_cross_entropy_sum)
    with pytest.raises(CheckFailed, match="overflow"):
        check_cross_entropy(_cross_entropy_naive)
    with pytest.raises(CheckFailed, match="sign"):
        check_cross_entropy(lambda logits, labels: -F.cross_entropy(logits, labels))

    def stub(logits, labels):
        raise NotImplementedError

    with pytest.raises(ExerciseNotDone):
        check_cross_entropy(stub)


def test_check_freeze_for_probe_accepts_the_right_answer_and_diagnoses_mistakes():
    def right(model):
        training.freeze_all_but_head(model)

    def nothing(model):
        return model

    def with_layernorm(model):
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(("classifier.", "vit.layernorm.")))

    assert check_freeze_for_probe(right)
    with pytest.raises(CheckFailed, match="nothing is frozen"):
        check_freeze_for_probe(nothing)
    with pytest.raises(CheckFailed, match="final LayerNorm"):
        check_freeze_for_probe(with_layernorm)
