"""``python -m vit_tutorial.grade`` and ``from vit_tutorial import grade``: the code is in :mod:`vit_tutorial.course.grade`."""
import sys

from .course import grade as _impl

if __name__ == "__main__":
    sys.exit(_impl.main())
else:
    sys.modules[__name__] = _impl
