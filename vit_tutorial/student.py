"""``python -m vit_tutorial.student``: the student copy's command line. The code is :mod:`vit_tutorial.course.student`."""
import sys

from .course.student import main

if __name__ == "__main__":
    sys.exit(main())
