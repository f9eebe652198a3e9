"""The checks added for the new exercises (chapter 1's predictions, chapter 3's shuffle, chapter 9's capstone)
on the real ViT-B/16 architecture; the catalogue covers their right and wrong answers on small models."""
import pytest
import torch

from vit_tutorial import scratch
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_parameter_count, check_stage_shapes, check_vit_forward
from vit_tutorial.exercises.capstone import _forward


def test_capstone_passes_the_books_forward_on_vit_b(model):
    assert check_vit_forward(lambda px, m: scratch.vit_forward(px, m), model)


def test_capstone_passes_the_books_forward_on_the_heavy_profile(trained_like_heavy):
    assert check_vit_forward(lambda px, m: scratch.vit_forward(px, m), trained_like_heavy)


def test_a_near_miss_as_accurate_as_huggingface_passes_by_the_float64_referee():
    """A deep check's case may carry a float64 truth: an answer outside the plain tolerance passes when it is
    as close to that truth as the reference is; one further off fails. The truth is computed only when needed."""
    from vit_tutorial.exercises._core import Case, run_check

    truth = torch.linspace(-5, 5, 12, dtype=torch.float64).reshape(2, 6)
    reference = (truth + 3e-4).float()  # a float32 reference that rounded 3e-4 away from the truth
    calls = []

    def make_case():
        return Case((truth.float(),), reference, "two rows", truth=lambda: calls.append(1) or truth)

    assert run_check("deep", lambda x: reference.clone(), [make_case()], quiet=True)  # plain match: no float64 run
    assert calls == []
    assert run_check("deep", lambda x: x - 3e-4, [make_case()], quiet=True)  # 6e-4 from the reference, as accurate
    assert calls == [1]
    with pytest.raises(CheckFailed, match="values differ"):
        run_check("deep", lambda x: x + 3e-3, [make_case()], quiet=True)  # ten times further from the truth
    with pytest.raises(CheckFailed, match="values differ"):
        run_check("deep", lambda x: x + 1.0, [make_case()], quiet=True)  # far off: no float64 run needed
    assert calls == [1, 1]


def test_capstone_names_a_mistake_on_vit_b(model):
    with pytest.raises(CheckFailed, match="final LayerNorm is missing"):
        check_vit_forward(lambda px, m: _forward(px, m, final_norm=False), model)


def test_capstone_cannot_pass_by_returning_zeros():
    with pytest.raises(CheckFailed, match="values differ"):
        check_vit_forward(lambda px, m: torch.zeros(px.shape[0], m.config.num_labels))


@pytest.mark.parametrize("check", [check_parameter_count, check_stage_shapes, check_vit_forward])
def test_stubs_are_not_done(check):
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(ExerciseNotDone):
        check(stub)


def test_parameter_count_matches_the_real_model():
    from vit_tutorial import random_model, vit_config
    from vit_tutorial.exercises.meet import _count

    assert _count(vit_config()) == 86_567_656
    small = vit_config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=24, num_labels=3, id2label={i: str(i) for i in range(3)}, label2id={str(i): i for i in range(3)})
    assert _count(small) == sum(p.numel() for p in random_model(0, small).parameters())
