"""What in a submission looks like cheating or like harming others: flags for the instructor to review.

The grader's verdicts do not depend on these flags (they come from the grader's own checks, see
:mod:`.worker`); the flags point a human at code that tried to get around them, or that reaches
outside its own folder. Cells that are exactly as in the book are not reviewed. The review reads
the source only (it never runs it), so it can be fooled by obfuscation; but obfuscation itself
(``exec``, ``__import__``, ``getattr`` on modules, ...) is flagged.
"""
from __future__ import annotations

import ast
import re

from .assignment import Assignment, notebook_aliases, python_source, vit_tutorial_aliases, vit_tutorial_names
from .notebooks import cell_text

# Names whose attributes a submission has no business assigning to.
_PROTECTED_ROOTS = {"vit_tutorial", "torch", "IPython", "builtins", "transformers", "numpy", "sys", "os"}
_HOOKS = {"register", "input_transformers_cleanup", "input_transformers_post", "ast_transformers",
          "post_run_cell", "pre_run_cell", "post_execute", "pre_execute", "set_custom_exc", "showtraceback",
          "register_magic_function", "events"}
_DYNAMIC = {"exec": "runs code from a string (exec)", "eval": "evaluates a string as code (eval)",
            "compile": "compiles code from a string", "__import__": "imports a module by a computed name",
            "globals": "edits the global namespace through globals()", "breakpoint": "calls breakpoint()"}
_MODULES = {
    "importlib": "imports modules by computed names (importlib)", "ctypes": "uses ctypes",
    "subprocess": "starts other programs (subprocess)", "signal": "sends or handles signals",
    "multiprocessing": "starts other processes (multiprocessing)", "socket": "opens network sockets",
    "inspect": "reads source code (inspect)", "shutil": "copies or deletes files (shutil)",
    "glob": "lists files (glob)", "pickle": "loads pickles", "dill": "loads pickles",
    "threading": "starts threads that outlive its cells", "atexit": "runs code at exit (atexit)",
}
_OS_CALLS = {"system", "popen", "kill", "killpg", "fork", "forkpty", "setsid", "spawnl", "spawnv", "execv",
             "execvp", "execl", "remove", "unlink", "rmdir", "rename", "replace", "chmod", "listdir", "scandir",
             "walk", "getppid", "environ", "getenv", "_exit"}
_PATH_HINTS = re.compile(r"\.ipynb|/proc|book/|site-packages|grades?\.json|\.\./|__file__|vit_tutorial/|/exercises", re.I)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[(a.asname or a.name).split(".")[0]] = a.name.split(".")[0] if not a.asname else a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def review_cell(source: str, known_checks: set[str]) -> list[str]:
    """Flags for one code cell's source."""
    flags: list[str] = []
    python = python_source(source)
    if re.search(r"get_ipython\(\)\.(system|getoutput)|^\s*!", python + "\n" + source, re.M):
        flags.append("runs shell commands")
    if re.search(r"run_line_magic\(['\"](run|load|writefile|env|sx|system|bash|script)", python) or \
            re.search(r"^\s*%%?(run|load|writefile|env|bash|script|sx|system)\b", source, re.M):
        flags.append("uses a magic that runs or writes files, or reads the environment")
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return flags + ["is not valid Python (not reviewed)"] if source.strip() else flags
    aliases = _module_aliases(tree)

    def full(name: str | None) -> str:
        return aliases.get(name, name) if name else ""

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
                node.name.startswith("check_") or node.name in ("run_check", "CheckResult", "Case")):
            flags.append(f"defines its own {node.name} (a fake self-check?)")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for t in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                    if isinstance(t, ast.Name) and (t.id.startswith("check_") or t.id == "run_check"):
                        flags.append(f"assigns to {t.id} (a fake self-check?)")
                    elif isinstance(t, (ast.Attribute, ast.Subscript)):
                        root = full(_root_name(t)).split(".")[0]
                        if root in _PROTECTED_ROOTS or _root_name(t) in ("get_ipython",):
                            flags.append(f"changes {ast.unparse(t)} (monkeypatching {root})")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            root = full(_root_name(f)).split(".")[0] if isinstance(f, ast.Attribute) else ""
            if name in _DYNAMIC and isinstance(f, ast.Name):
                flags.append(_DYNAMIC[name])
            elif name in ("setattr", "delattr") and isinstance(f, ast.Name) and node.args:
                target = full(_root_name(node.args[0]) or "").split(".")[0]
                flags.append(f"calls {name} on {ast.unparse(node.args[0])}" + (f" (monkeypatching {target})" if target in _PROTECTED_ROOTS else ""))
            elif name == "getattr" and isinstance(f, ast.Name) and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant):
                flags.append("looks up attributes by computed names (getattr)")
            elif name in _OS_CALLS and root == "os":
                flags.append(f"calls os.{name}")
            elif name in ("open", "read_text", "read_bytes", "loads", "load") and any(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) and _PATH_HINTS.search(a.value) for a in ast.walk(node)):
                flags.append("reads files outside its notebook (the book, the package, other submissions?)")
            if isinstance(f, ast.Attribute) and (f.attr in _HOOKS or root == "IPython" or
                                                 (isinstance(f.value, ast.Attribute) and f.value.attr == "events")):
                flags.append(f"registers IPython hooks or changes the shell ({ast.unparse(f)[:60]})")
        elif isinstance(node, ast.Attribute) and node.attr in _HOOKS and node.attr not in ("register", "events"):
            flags.append(f"touches IPython's {node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in ("__globals__", "__code__", "__closure__", "__builtins__",
                                                                "__subclasses__", "__dict__", "f_back", "f_globals"):
            flags.append(f"reaches into interpreter internals ({node.attr})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _PATH_HINTS.search(node.value):
            flags.append(f"names a path outside its folder ({node.value[:60]!r})")
        elif isinstance(node, ast.Name) and node.id in ("__file__", "__builtins__"):
            flags.append(f"uses {node.id}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                top = module.split(".")[0]
                if top in _MODULES:
                    flags.append(_MODULES[top])
                if module.startswith("vit_tutorial.exercises.") or (
                        isinstance(node, ast.ImportFrom) and module == "vit_tutorial.exercises"
                        and any(a.name.startswith("_") or a.name in ("run_check", "Case") for a in node.names)):
                    flags.append(f"imports the checkers' internals ({module})")
                if module.startswith("vit_tutorial.course") or module in ("vit_tutorial.grade", "vit_tutorial.student"):
                    flags.append(f"imports the course tooling ({module})")
                if top == "os" and isinstance(node, ast.ImportFrom):
                    bad = [a.name for a in node.names if a.name in _OS_CALLS]
                    if bad:
                        flags.append(f"imports os.{', os.'.join(bad)}")
    return flags


def review(nb, assignment: Assignment | None) -> list[str]:
    """Flags for a whole submission: ``cell N: what``, each once."""
    flags: list[str] = []
    book_sources = assignment.book_sources if assignment else set()
    known = {c.name for c in assignment.checks} if assignment else set()
    functions = {c.function for c in assignment.checks} if assignment else set()
    aliases = notebook_aliases(nb.get("cells", []))
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell_text(cell)
        if source.strip() in book_sources or not source.strip():
            continue  # as the book has it
        found = review_cell(source, known)
        if assignment is not None:
            for alias, target in vit_tutorial_aliases(source).items():
                if alias in functions:
                    found.append(f"imports {alias} from the package ({target}) instead of writing it")
            try:
                tree = ast.parse(python_source(source))
            except SyntaxError:
                tree = None
            for node in ast.walk(tree) if tree else ():
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in functions for t in node.targets):
                    used = set().union(set(), *vit_tutorial_names(ast.unparse(node.value), aliases).values())
                    if used:
                        name = next(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in functions)
                        found.append(f"sets {name} to {', '.join(sorted(used)[:2])} from the package instead of writing it")
            for where, used in vit_tutorial_names(source, aliases).items():
                if where not in functions and not any(n.startswith("vit_tutorial.exercises.") for n in used):
                    continue
                allowed = assignment.book_names.get(where, set()) | assignment.book_names.get("", set()) \
                    if where not in functions else assignment.book_names.get(where, set())
                extra = sorted(n for n in used if n not in allowed and not any(b.startswith(n + ".") for b in allowed)
                               and n != "vit_tutorial")
                if extra:
                    found.append(f"{where or 'the cell'} uses {', '.join(extra[:3])} from the package, which the "
                                 "book's own version does not (a reference implementation?)")
        for flag in dict.fromkeys(found):
            flags.append(f"cell {index}: {flag}")
    return flags
