"""The checks added for the new exercises (chapter 1's predictions, chapter 3's shuffle, chapter 9's capstone)
on the real ViT-B/16 architecture; the catalogue covers their right and wrong answers on small models."""
import pytest
import torch

from vit_tutorial import scratch
from vit_tutorial.exercises import CheckFailed, ExerciseNotDone, check_parameter_count, check_stage_shapes, check_vit_forward
from vit_tutorial.exercises.capstone import _forward


def test_capstone_passes_the_books_forward_on_vit_b(model):
    assert check_vit_forward(lambda px, m: scratch.vit_forward(px, m), model)


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
