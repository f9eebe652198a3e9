"""The instructor build: the book with its solutions hidden entirely (``python -m vit_tutorial.student --instructor-build DIR``).

It builds the book from a temporary copy in which the solution cells still run (so the
self-checks pass) but are removed from the pages, with sphinx-exercise's ``hide_solutions`` on,
and without the buttons that would hand out the notebooks with their solutions (download,
Binder, Colab). Your ``_config.yml`` is not touched.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .notebooks import RefusedError, instructor_notebook, project_root, read_notebook, write_notebook


def _instructor_config(config_text: str) -> str:
    import yaml

    config = yaml.safe_load(config_text) or {}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["hide_solutions"] = True
    sphinx_config["html_copy_source"] = False  # no _sources/*.ipynb with the solutions in them
    config.setdefault("html", {})["use_download_button"] = False
    # jupyter-book 1.x does not pass html.use_download_button on to the theme, whose button would link to
    # the _sources/ that html_copy_source=False leaves out: turn it off in the theme's own options
    config["sphinx"]["recursive_update"] = True
    sphinx_config.setdefault("html_theme_options", {})["use_download_button"] = False
    launch = config.setdefault("launch_buttons", {})
    for key in ("binderhub_url", "colab_url", "jupyterhub_url", "thebe"):
        launch.pop(key, None)  # these open the repository's notebooks, solutions included
    launch["notebook_interface"] = launch.get("notebook_interface", "classic")
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


INSTRUCTOR_MARKER = ".vit-tutorial-instructor-build"  # marks a folder this command made
_MADE = ("source", "_build", "html")  # what it makes inside that folder, and the only things it deletes


def prepare_instructor_source(project: Path, source: Path) -> Path:
    """Copy the book's sources into ``source`` (a folder that must not exist yet), transformed for the instructor build."""
    project, source = Path(project), Path(source)
    source.mkdir(parents=True)
    shutil.copy2(project / "_toc.yml", source / "_toc.yml")
    (source / "_config.yml").write_text(_instructor_config((project / "_config.yml").read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(project / "book", source / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".pytest_cache", "__pycache__"))
    for path in (source / "book").rglob("*.ipynb"):
        write_notebook(instructor_notebook(read_notebook(path)), path)
    return source


def _claim_build_folder(dest: Path, project: Path, force: bool) -> None:
    """Make sure ``dest`` is ours to write (and to clear ``_MADE`` in); raise :class:`RefusedError` if not."""
    project = project.resolve()
    if dest == project or dest in project.parents:
        raise RefusedError(f"{dest} holds the project itself; give the instructor build a folder of its own")
    marker = dest / INSTRUCTOR_MARKER
    if dest.exists() and not dest.is_dir():
        raise RefusedError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not marker.is_file():
        if not force:
            raise RefusedError(f"{dest} is not empty and was not made by the instructor build; choose a new or "
                               "empty folder, or add --force to build into it")
        ours_missing = [name for name in _MADE if (dest / name).exists()]
        if ours_missing:
            raise RefusedError(f"{dest} already has {', '.join(ours_missing)}, which the instructor build did not "
                               "make and would have to replace; choose another folder")
    dest.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by python -m vit_tutorial.student --instructor-build; it deletes only "
                      + ", ".join(_MADE) + " in here\n", encoding="utf-8")


def _main_build_cache(project: Path) -> Path | None:
    """The execution cache of the main book build (``make book``), if there is one."""
    for build in (project / "_build", project / "_build-tf4" / "_build"):
        cache = build / ".jupyter_cache"
        if (cache / "global.db").is_file():
            return cache
    return None


def instructor_build(dest: Path, project: Path | None = None, strict: bool = True, force: bool = False,
                     cache_from: Path | None = None) -> Path:
    """Build the book with the solutions hidden entirely; return the HTML folder (``dest/html``).

    Deletes only what it made (``dest/source``, ``dest/_build``, ``dest/html``), and only in a folder it
    made (see :func:`_claim_build_folder`). The main build's execution cache (``_build/.jupyter_cache``,
    or ``cache_from``) is copied in first, so that unchanged notebooks are not executed again.
    """
    project = project_root(project)
    dest = Path(dest).resolve()
    _claim_build_folder(dest, project, force)
    for name in ("source", "html"):
        if (dest / name).is_dir():
            shutil.rmtree(dest / name)
    for path in (dest / "_build").glob("*"):  # its own earlier build, but not its execution cache
        if path.name != ".jupyter_cache":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    source = prepare_instructor_source(project, dest / "source")
    cache = Path(cache_from) if cache_from else _main_build_cache(project)
    if cache is not None and (cache / "global.db").is_file() and not (dest / "_build" / ".jupyter_cache").exists():
        shutil.copytree(cache, dest / "_build" / ".jupyter_cache")
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(source), "--path-output", str(dest)]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    subprocess.run(command, check=True, cwd=project)
    html = dest / "html"
    shutil.move(str(dest / "_build" / "html"), html)
    return html
