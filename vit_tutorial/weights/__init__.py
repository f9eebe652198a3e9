"""Where the model's weights come from; :func:`vit_tutorial.load_model` is the front door.

:mod:`.checkpoint`      what ``google/vit-base-patch16-224`` is: its id, labels, config, image processor
:mod:`.hub`             the local HuggingFace cache, the Hub probe (with a deadline), the pretrained load
:mod:`.sources`         the weight sources (auto, pretrained, random, trained-like, tiny-digits) and the choice
:mod:`.random_weights`  seeded random weights, cached on disk and verified
:mod:`.trained_like`    random weights reshaped to a trained model's statistics (a test source)
:mod:`.tiny`            the tiny digits ViT's config and its shipped files (appendix A2)
:mod:`.browser_model`   the weights of the ViT that runs in the reader's browser: int8 export, shards, the cost

Nothing here imports a chapter module, so any chapter may use it.
"""
