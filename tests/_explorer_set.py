"""One of each explorer, built from small or random inputs and a model (the tests' random
ViT-B/16): shared by test_explorers (a static page) and test_lab (a live JupyterLab kernel)."""
from __future__ import annotations

import torch

from vit_tutorial import explorers


def explorer_set(model) -> list:
    """One of each explorer, in :data:`vit_tutorial.explorers.NAMES` order."""
    import vit_tutorial as vt
    from vit_tutorial import images, scratch

    g = torch.Generator().manual_seed(0)
    photo = torch.rand(224, 224, 3, generator=g).numpy()
    pixels = vt.preprocess(vt.load_image("cat")).to(next(model.parameters()).device)
    trace = scratch.vit_trace(pixels, model)
    maps = torch.stack([a[0] for a in trace.attentions])  # (12, 12, 197, 197)
    with torch.no_grad():
        from vit_tutorial.bridge import vit_model

        emb = vit_model(model).embeddings(pixels)
        patch_emb = vit_model(model).embeddings.patch_embeddings(pixels)
    pos = vit_model(model).embeddings.position_embeddings
    small = [torch.softmax(torch.randn(6, 3, 17, 17, generator=g) * 2, -1) for _ in range(4)]
    return [
        explorers.patches(images.to_display(pixels), patch_emb, source="random weights (test)"),
        explorers.positions(pos),
        explorers.attention(images.to_display(pixels), maps, source="random weights (test)"),
        explorers.layernorm(emb, torch.ones(768), torch.zeros(768)),
        explorers.residual(emb, model),
        explorers.activations(torch.randn(2000, generator=g), source="random weights (test)"),
        explorers.predictions(model, ["cat", "coffee"]),
        explorers.rollout([photo, photo * 0.5], ["a", "b"], [a.expand(2, -1, -1, -1) for a in trace.attentions]),
        explorers.digits(torch.rand(6, 3, 32, 32, generator=g), torch.arange(6), torch.rand(6, 10, generator=g), small),
        explorers.agreement([photo, photo], ["a", "b"], torch.rand(13, 2, 196, generator=g) * 2 - 1),
        explorers.draw_digit(),
        explorers.your_photo(model, source="random weights (test)"),  # no exported weights here: the sample only
    ]
