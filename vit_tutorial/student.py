"""``python -m vit_tutorial.student`` and ``from vit_tutorial import student``: the code is in :mod:`vit_tutorial.course.student`."""
import sys

from .course import student as _impl

if __name__ == "__main__":
    sys.exit(_impl.main())
else:
    sys.modules[__name__] = _impl
