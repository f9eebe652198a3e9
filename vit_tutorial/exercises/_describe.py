"""How a learner's tensor differs from the right one, in words: the shape (which axis) and the values
(a permutation, a scale, an offset...). Used by :func:`vit_tutorial.exercises._core.run_check`."""
from __future__ import annotations

import torch


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float, equal_nan: bool = False) -> bool:
    if got.shape != want.shape:
        return False
    try:
        torch.testing.assert_close(got.to(want.dtype), want, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=False)
    except AssertionError:
        return False
    return True


def describe_shape_difference(got: tuple, want: tuple, axes: tuple[str, ...] | None) -> str:
    """Explain how shape ``got`` differs from ``want``, naming axes when we know their names."""
    name = (lambda i: f"axis {i} ({axes[i]})") if axes and len(axes) == len(want) else (lambda i: f"axis {i}")
    text = f"your output has shape {got}, expected {want}"
    if axes and len(axes) == len(want):
        text += " = (" + ", ".join(axes) + ")"
    if len(got) != len(want):
        return text + f": it has {len(got)} dimensions instead of {len(want)}"
    if sorted(got) == sorted(want):
        diffs = [f"{name(i)} is {g}, should be {w}" for i, (g, w) in enumerate(zip(got, want)) if g != w]
        return (text + ": the same sizes in another order (" + "; ".join(diffs) + ") - check the order of the "
                "axes (transpose/permute) and the order of the sizes in your reshape/view")
    diffs = [f"{name(i)} is {g}, should be {w}" for i, (g, w) in enumerate(zip(got, want)) if g != w]
    return text + ": " + "; ".join(diffs)


def describe_value_difference(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float,
                              axes: tuple[str, ...] | None = None) -> str:
    """What a wrong answer of the right shape has in common with the right one, when something simple
    fits: the same values in other places, a constant factor, a constant offset, or differences
    confined to a few indices of one axis. '' when nothing simple fits. Never guesses a cause."""
    if want.numel() < 2 or not want.is_floating_point():
        return ""
    g, w = got.flatten(), want.flatten()
    if _close(g.sort().values, w.sort().values, rtol, atol):
        return ("; every value of the right answer is in your output, but in other places: the values are right and "
                "their order is not - check the order of the axes in your reshape / view / permute / transpose / indexing")
    norm = (w * w).sum()
    if norm > 0:
        c = float((g * w).sum() / norm)
        if abs(c - 1) > 1e-3 and _close(g, c * w, rtol, atol):
            return f"; your output is {c:.4g} times the right answer everywhere: a constant factor is wrong or missing"
    offset = g - w
    if _close(offset, offset.mean().expand_as(offset), rtol, max(atol, 1e-6)):
        return f"; your output is the right answer plus {offset.mean().item():.4g} everywhere: a constant term is wrong or missing"
    for axis in range(want.dim() if want.dim() > 1 else 0):
        if want.shape[axis] < 2:
            continue
        name = f"axis {axis} ({axes[axis]})" if axes and len(axes) == want.dim() else f"axis {axis}"
        others = tuple(d for d in range(want.dim()) if d != axis)
        if want.numel() // want.shape[axis] < 2:  # one entry per index: any difference would "fit"
            continue
        shift = (got - want).mean(dim=others, keepdim=True)
        if _close(got, want + shift, rtol, max(atol, 1e-6)):
            return (f"; your output differs from the right answer by an amount that depends only on the index along "
                    f"{name}: a term added for each index of that axis (a bias, say) is wrong or missing")
        if bool((want != 0).all()):
            ratio = (got / want).mean(dim=others, keepdim=True)
            if _close(got, want * ratio, rtol, atol):
                return (f"; your output is the right answer times a factor that depends only on the index along "
                        f"{name}: a scale applied per index of that axis is wrong or missing")
    wrong = ~torch.isclose(got, want, rtol=rtol, atol=atol)
    for axis in range(want.dim()):
        if want.shape[axis] < 3:
            continue
        others = tuple(d for d in range(want.dim()) if d != axis)
        bad = wrong.any(dim=others).nonzero().flatten().tolist() if others else wrong.nonzero().flatten().tolist()
        if 0 < len(bad) <= want.shape[axis] // 3:
            name = f"axis {axis} ({axes[axis]})" if axes and len(axes) == want.dim() else f"axis {axis}"
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            return f"; only index {shown} of {name} (of {want.shape[axis]}) differ, the rest is right"
    return ""


# Errors torch raises for the commonest slips, and what they usually mean (tried after a check's own OnError mistakes).
