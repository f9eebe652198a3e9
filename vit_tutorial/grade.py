"""``python -m vit_tutorial.grade``: the grader's command line. The grader is :mod:`vit_tutorial.course.grade`."""
import sys

from .course.grade import main

if __name__ == "__main__":
    sys.exit(main())
