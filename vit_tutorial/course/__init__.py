"""Course tooling: the student copy and instructor build (:mod:`.student`), the book-derived
assignments (:mod:`.assignment`), the grader (:mod:`.grade`, which runs each submission through
:mod:`.worker`) and the static review of submissions (:mod:`.review`).

``python -m vit_tutorial.student`` and ``python -m vit_tutorial.grade`` are the commands (also installed as
``vit-tutorial-student`` and ``vit-tutorial-grade``). :mod:`.nbexec` keeps nbclient from stalling while it waits for a
kernel (the grader's kernels, and nbmake's as a pytest plugin).
"""
