"""Course tooling: everything an instructor uses, nothing a learner needs (the ``course`` extra).

The book's notebooks     :mod:`.notebooks` (solutions, self-checks, safe writing), :mod:`.assignment`
                         (what a chapter's exercises are, from the book)
Handing out              :mod:`.student` (the student copy), :mod:`.instructor` (the book, solutions hidden),
                         :mod:`.otter` (otter-grader / Gradescope export)
Grading                  :mod:`.grade` (the command, one submission) -> :mod:`.parallel` (``--jobs`` at once),
                         :mod:`.handins` (copied away and hashed before any notebook runs; ``--resume``),
                         :mod:`.submission` (reading a file), :mod:`.review` (what looks like cheating),
                         :mod:`.isolation` (one worker process per submission, leftovers, the checkout's
                         snapshot), :mod:`.lifeline` (they die with the grader), :mod:`.results` (table, JSON)
The worker process       :mod:`.worker` (runs one notebook, grades it with the real checks) -> :mod:`.kernel`
                         (the kernel and the calls into it), :mod:`.kernel_call` (the code run in the kernel),
                         :mod:`.sandbox` (bubblewrap), :mod:`.bytecode` (compiled once, a copy per kernel
                         where there is no sandbox)
Notebook execution       :mod:`.nbexec` keeps nbclient from stalling while it waits for a kernel (the grader's
                         kernels, and nbmake's as a pytest plugin)

``python -m vit_tutorial.student`` and ``python -m vit_tutorial.grade`` are the commands (also installed as
``vit-tutorial-student`` and ``vit-tutorial-grade``); ``vit-tutorial notebooks DIR`` (:mod:`.cli`) writes a
learner's copy of the book that the package ships.
"""
