"""The book's static figures (matplotlib); the interactive ones are :mod:`vit_tutorial.explorers`.

:mod:`.plots`         per-patch values over the photo, attention matrices and heads (chapters 4, 8, A1)
:mod:`.patch_plots`   patches, patch-embedding filters, position similarity (chapters 2, 3, A1)
:mod:`.architecture`  the architecture figure of chapter 1
:mod:`.dark`          each figure's copy for a dark page
"""
