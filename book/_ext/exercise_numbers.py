"""Exercises numbered per chapter in the book: "Exercise 4.2", not the 11th exercise of the whole book.

Loaded from _config.yml (``sphinx.local_extensions``). Sphinx numbers sphinx-exercise's boxes
like figures, across the whole book when the table of contents is not numbered (chapter 4 began
at Exercise 10). Each ``{exercise}`` of a notebook declares its number with MyST's
``:enumerator: 4.2`` option (JupyterLab's MyST renderer shows that number too; the student copy,
the grader and the otter export read it: see ``vit_tutorial/course/numbering.py``). This
extension lets sphinx-exercise's directive accept the option and gives each box that number
once Sphinx has numbered everything, so the box, its solution's title ("Solution to Exercise
4.2") and any ``{numref}`` agree. An exercise without the option gets ``<chapter>.<k>``, its place
in its chapter.

It also puts one line under each chapter's "Exercises" heading: the book ran every notebook with
its hidden solutions, so a self-check there shows "✔ correct" right under a stub that still
raises ``NotImplementedError``. (Not in the instructor build, which hides solutions and the
checks' outputs.)
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives

EXERCISES_NOTE = (
    "In this book the self-checks ran the hidden solutions, so they show ✔ under stubs that still raise "
    "NotImplementedError; in your own notebook they check your code."
)


def _numbers(env) -> dict[str, dict[str, str]]:
    if not hasattr(env, "vt_exercise_numbers"):
        env.vt_exercise_numbers = {}
    return env.vt_exercise_numbers


def _directive():
    from sphinx_exercise.directive import ExerciseDirective
    from sphinx_exercise.nodes import exercise_enumerable_node

    class NumberedExerciseDirective(ExerciseDirective):
        option_spec = {**ExerciseDirective.option_spec, "enumerator": directives.unchanged_required}

        def run(self):
            result = super().run()
            from vit_tutorial.course.numbering import expected_numbers

            numbers = _numbers(self.env).setdefault(self.env.docname, {})
            for node in result:
                if not isinstance(node, exercise_enumerable_node) or not node.get("ids"):
                    continue
                numbers[node["ids"][0]] = self.options.get("enumerator") or expected_numbers(len(numbers) + 1, self.env.docname)[-1]
            return result

    return NumberedExerciseDirective


def purge(app, env, docname) -> None:
    _numbers(env).pop(docname, None)


def merge(app, env, docnames, other) -> None:
    _numbers(env).update({d: n for d, n in _numbers(other).items() if d in docnames})


def renumber(app, env) -> list[str]:
    """env-get-updated, after Sphinx's own figure numbering: each exercise gets its chapter's number."""
    changed = []
    for docname, numbers in _numbers(env).items():
        assigned = env.toc_fignumbers.setdefault(docname, {}).setdefault("exercise", {})
        for node_id, number in numbers.items():
            if assigned.get(node_id) != (number,):
                assigned[node_id] = (number,)  # Sphinx writes '.'.join(map(str, number)): "4.2"
                changed.append(docname)
    return sorted(set(changed))


def note_under_exercises(app, doctree) -> None:
    """doctree-read: the line above, after the title of every section called "Exercises"."""
    if app.config["hide_solutions"]:
        return
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is not None and title.parent is section and title.astext().strip() == "Exercises":
            section.insert(section.index(title) + 1, nodes.paragraph(EXERCISES_NOTE, EXERCISES_NOTE, classes=["vt-exercises-note"]))


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_directive("exercise", _directive(), override=True)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-updated", renumber, priority=900)
    app.connect("doctree-read", note_under_exercises)  # after the toctree collector's numbering (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
