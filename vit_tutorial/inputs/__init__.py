"""What the reader hands the book, read safely: pictures from files, addresses and arrays.

:mod:`.net`      one network call with a deadline (the image downloader and the Hub probe share it)
:mod:`.reading`  a file, a ``file://``, ``data:`` or ``http(s)://`` address -> bytes, with limits
:mod:`.decode`   bytes, PIL images, arrays and tensors -> an upright 8-bit RGB image

The chapter-facing front door is :func:`vit_tutorial.images.load_image`.
"""
