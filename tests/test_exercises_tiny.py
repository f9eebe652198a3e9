"""Appendix A2 self-checks: right answers written differently pass, classic mistakes get their diagnosis."""
import pytest
import torch
import torch.nn.functional as F

from vit_tutorial import tiny
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_digits_to_pixels, check_variant_config
from vit_tutorial.exercises import tiny as XT

pytest.importorskip("sklearn")


# --- digits_to_pixels ---------------------------------------------------------------------------------


def pixels_by_repeat(images, size):
    x = F.interpolate((images / 16).unsqueeze(1), size=(size, size), mode="bilinear")
    return (2 * x - 1).repeat(1, 3, 1, 1)


def pixels_by_stack(images, size):
    out = []
    for im in images:
        up = F.interpolate(im[None, None] * (1 / 16), scale_factor=size / 8, mode="bilinear", align_corners=False)[0, 0]
        grey = (up - 0.5) / 0.5
        out.append(torch.stack([grey, grey, grey]))
    return torch.stack(out)


@pytest.mark.parametrize("fn", [tiny.digits_to_pixels, pixels_by_repeat, pixels_by_stack])
def test_digits_to_pixels_right_answers_pass(fn):
    assert check_digits_to_pixels(fn)


@pytest.mark.parametrize("explanation", list(XT.PIXEL_MISTAKES))
def test_digits_to_pixels_mistakes_diagnosed(explanation):
    wrong = XT.PIXEL_MISTAKES[explanation]
    with pytest.raises(CheckFailed) as err:
        check_digits_to_pixels(wrong)
    assert explanation in str(err.value)


def test_digits_to_pixels_one_channel_is_a_shape_message():
    with pytest.raises(CheckFailed, match=r"axis 1 \(channels\) is 1, should be 3"):
        check_digits_to_pixels(lambda im, s: tiny.digits_to_pixels(im, s)[:, :1])


def test_digits_to_pixels_not_upscaled():
    with pytest.raises(CheckFailed, match=r"axis 2 \(height\) is 8, should be 32"):
        check_digits_to_pixels(lambda im, s: tiny.digits_to_pixels(im, 8))


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda im, s: 1 / 0, "raised ZeroDivisionError"),
        (lambda im, s: im.tolist(), "returned a list"),
        (lambda im, s: tiny.digits_to_pixels(im, s) * float("nan"), "NaN"),
        (42, "pass your function itself"),
    ],
)
def test_digits_to_pixels_broken_functions(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_digits_to_pixels(fn)


def test_digits_to_pixels_stub():
    def stub(images, size):
        raise NotImplementedError("write me")

    with pytest.raises(ExerciseNotDone):
        check_digits_to_pixels(stub)


# --- variant_config -------------------------------------------------------------------------------------


def variant_by_copy(patch_size, depth):
    config = tiny.tiny_config()
    config.patch_size = patch_size
    config.num_hidden_layers = depth
    return config


def variant_by_kwargs(patch_size, depth):
    return tiny.tiny_config(**{"patch_size": patch_size, "num_hidden_layers": depth})


@pytest.mark.parametrize("fn", [variant_by_copy, variant_by_kwargs])
def test_variant_right_answers_pass(fn):
    assert check_variant_config(fn)


@pytest.mark.parametrize("explanation", list(XT.VARIANT_MISTAKES))
def test_variant_mistakes_diagnosed(explanation):
    wrong_summary = XT.VARIANT_MISTAKES[explanation]
    builders = {  # the same mistakes, as a learner would write them (returning a config)
        "patch size (8)": lambda p, d: tiny.tiny_config(num_hidden_layers=d),
        "depth (4 layers)": lambda p, d: tiny.tiny_config(patch_size=p),
        "swapped": lambda p, d: tiny.tiny_config(patch_size=d, num_hidden_layers=p),
        "number of heads": lambda p, d: tiny.tiny_config(patch_size=p, num_attention_heads=d),
        "defaults": lambda p, d: XT._plain_vit(p, d),
    }
    fn = next(f for key, f in builders.items() if key in explanation)
    assert wrong_summary is not None
    with pytest.raises(CheckFailed) as err:
        check_variant_config(fn)
    assert explanation in str(err.value)


def test_variant_wrong_type_and_stub():
    with pytest.raises(CheckFailed, match="return a transformers ViTConfig"):
        check_variant_config(lambda p, d: {"patch_size": p})
    with pytest.raises(CheckFailed, match="raised ValueError"):
        check_variant_config(lambda p, d: tiny.tiny_config(patch_size=p + 1, num_hidden_layers=d))
    with pytest.raises(CheckFailed, match="pass your function itself"):
        check_variant_config("tiny")

    def stub(patch_size, depth):
        raise NotImplementedError

    with pytest.raises(ExerciseNotDone):
        check_variant_config(stub)
