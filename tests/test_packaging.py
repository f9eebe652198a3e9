"""The package as it ships: wheel and sdist, installed into a fresh venv; one version, one address; lint.

The wheel is built by the build line of `make dist` (``python -m build --no-isolation``: sdist first, the
wheel from the sdist, setuptools from the venv, so no network is needed), in a copy of the tree. The fresh venv borrows
the dependencies (torch, transformers, ...) of the venv running the tests through a .pth path
line, but vit_tutorial itself comes only from the wheel.

With ``VIT_TUTORIAL_DIST=<folder>`` the tests take that folder's sdist and wheel of the current
version instead of building their own: `make dist` (and so the release workflow) checks exactly
the files it is about to publish. Without it (`make test`, CI on every push) the same tests are
the release's dry run; tests/test_release.py checks that the recipe's lines run.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vit_tutorial"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tools"))
import check_notebooks  # noqa: E402
import repo_url  # noqa: E402

pytestmark = pytest.mark.transformers_free  # nothing here can depend on the transformers major: make test runs it with transformers blocked, CI on 5.x only

SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
LICENSE_FILES = ("LICENSE", "LICENSE-CC-BY-4.0")  # pyproject.toml's license-files: the code's MIT, the book's CC BY 4.0
LICENSE_EXPRESSION = "MIT AND CC-BY-4.0"
DIST_ENV = "VIT_TUTORIAL_DIST"


def _tool(name: str) -> str:
    """A console script of the venv running the tests (the dev extra), else from PATH."""
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed (it comes with the dev extra: pip install -e '.[dev]' -c constraints.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _package_files() -> dict[str, set[str]]:
    """Files under vit_tutorial/ as wheel paths ('vit_tutorial/data/...'): {'py': ..., 'data': ...}."""
    files = {"py": set(), "data": set()}
    for path in PACKAGE.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_dir() or SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc" or path.name.startswith("."):
            continue
        files["py" if path.suffix == ".py" else "data"].add(rel.as_posix())
    return files


def _version_in_init() -> str:
    return re.search(r'^__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text(), re.M).group(1)


COPY_IGNORE = shutil.ignore_patterns(  # what a copy of the tree leaves out: builds, venvs, caches, outputs
    ".git",
    ".venv*",
    "_build*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    "test-artifacts",
    "student",
    "otter",
    ".ipynb_checkpoints",
    "*.pyc",
)


def make_recipe(target: str, bin_dir: Path) -> list[str]:
    """The command lines of a Makefile target, with $(BIN) made this venv's bin folder."""
    makefile = (ROOT / "Makefile").read_text()
    body = re.search(rf"(?ms)^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", makefile)
    assert body, f"the Makefile has no target {target}"
    return [line.strip().replace("$(BIN)", str(bin_dir)) for line in body.group(1).splitlines() if not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """{'wheel': ..., 'sdist': ...}: built by the build line of `make dist` (what the release publishes), in a copy
    of the tree, or found in $VIT_TUTORIAL_DIST (where `make dist` runs these tests on the files it just built)."""
    if os.environ.get(DIST_ENV):
        return _prebuilt(Path(os.environ[DIST_ENV]))
    pytest.importorskip("build", reason="`build` comes with the dev extra")
    src = tmp_path_factory.mktemp("src") / "tree"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE, symlinks=True)
    (build_line,) = [line for line in make_recipe("dist", BIN) if " -m build " in line]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", DIST_ENV)}
    result = subprocess.run(build_line, shell=True, cwd=src, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"`{build_line}` failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    (wheel,), (sdist,) = sorted((src / "dist").glob("*.whl")), sorted((src / "dist").glob("*.tar.gz"))
    return {"wheel": wheel, "sdist": sdist}


def _prebuilt(folder: Path) -> dict[str, Path]:
    """The sdist and the wheel of the current version in ``folder`` (what `make dist` wrote)."""
    version = _version_in_init()
    wheels = sorted(folder.glob(f"vit_tutorial-{version}-*.whl"))
    sdists = sorted(folder.glob(f"vit_tutorial-{version}.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        pytest.fail(f"{DIST_ENV}={folder}: expected one wheel and one sdist of version {version}, found "
                    f"{[p.name for p in wheels + sdists] or 'none'} (run `make dist`)")
    return {"wheel": wheels[0], "sdist": sdists[0]}


# ----------------------------------------------------------------------------- what ships


@pytest.mark.slow  # builds the sdist and the wheel
def test_wheel_carries_every_package_file(dists):
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    files = _package_files()
    assert files["data"], "vit_tutorial/ holds no data files?"
    missing = sorted((files["py"] | files["data"]) - names)
    assert not missing, f"the wheel lacks {missing}: add a glob to [tool.setuptools.package-data] in pyproject.toml"


@pytest.mark.slow  # builds the sdist and the wheel
def test_sdist_carries_every_package_file(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    files = _package_files()
    missing = sorted((files["py"] | files["data"] | {"pyproject.toml", "README.md"}) - names)
    assert not missing, f"the sdist lacks {missing}"


def test_package_data_covers_explorer_scripts():
    """JavaScript and CSS anywhere in the package ship, whichever folder the explorers use."""
    text = (ROOT / "pyproject.toml").read_text()
    for glob in ('"**/*.js"', '"**/*.css"'):
        assert glob in text


@pytest.mark.slow  # builds the sdist and the wheel
def test_check_wheel_contents_is_clean(dists, tmp_path):
    tree = tmp_path / "vit_tutorial"  # the package as the wheel should hold it: with the book's notebooks (setup.py)
    shutil.copytree(PACKAGE, tree, ignore=shutil.ignore_patterns(*SKIP_PARTS, "*.pyc"))
    (tree / "book").mkdir()
    for notebook in (ROOT / "book").glob("*.ipynb"):
        shutil.copy2(notebook, tree / "book" / notebook.name)
    result = subprocess.run([_tool("check-wheel-contents"), "--package", str(tree), str(dists["wheel"])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- one version, one address


@pytest.mark.slow  # builds the sdist and the wheel
def test_the_version_lives_in_vit_tutorial_init(dists):
    version = _version_in_init()
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"(?m)^version\s*=", project), "pyproject.toml must not repeat the version"
    assert re.search(r'(?m)^dynamic\s*=\s*\[[^]]*"version"', project)
    assert dists["wheel"].name.startswith(f"vit_tutorial-{version}-")
    metadata = zipfile.ZipFile(dists["wheel"]).read(f"vit_tutorial-{version}.dist-info/METADATA").decode()
    assert f"\nVersion: {version}\n" in metadata
    assert f"\nLicense-Expression: {LICENSE_EXPRESSION}\n" in metadata  # and both licence texts travel with the wheel
    for name in LICENSE_FILES:
        assert f"\nLicense-File: {name}\n" in metadata, name
        text = zipfile.ZipFile(dists["wheel"]).read(f"vit_tutorial-{version}.dist-info/licenses/{name}").decode()
        assert text == (ROOT / name).read_text(), name
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "Attribution 4.0 International Public License" in (ROOT / "LICENSE-CC-BY-4.0").read_text()


def test_license_expression_is_pyprojects():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'(?m)^license = "{LICENSE_EXPRESSION}"$', text)
    assert re.search(r"(?m)^license-files = \[" + ", ".join(f'"{n}"' for n in LICENSE_FILES) + r"\]$", text)


def test_the_repository_address_lives_in_one_place():
    assert repo_url.mismatches() == [], "run: python tools/repo_url.py"


def test_repo_url_tool_finds_and_fixes_a_disagreement(tmp_path):
    for name in ("pyproject.toml", "_config.yml", "book/intro.md", "CITATION.cff", *[f"book/{p.name}" for p in (ROOT / "book").glob("*.ipynb")]):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    assert repo_url.mismatches(tmp_path) == []
    config = tmp_path / "_config.yml"
    config.write_text(config.read_text().replace(repo_url.source_url(tmp_path), "https://github.com/someone/else"))
    assert any("_config.yml" in p for p in repo_url.mismatches(tmp_path))

    notebook = next((tmp_path / "book").glob("*.ipynb"))
    before = notebook.read_text(encoding="utf-8")
    changed = repo_url.move_to("https://github.com/a-fork/vit-tutorial", tmp_path)
    assert repo_url.mismatches(tmp_path) == []
    assert repo_url.derived(repo_url.source_url(tmp_path))["Book"] == "https://a-fork.github.io/vit-tutorial/"
    assert notebook in changed and config in changed and tmp_path / "CITATION.cff" in changed
    citation = (tmp_path / "CITATION.cff").read_text()
    assert 'repository-code: "https://github.com/a-fork/vit-tutorial"' in citation and 'url: "https://a-fork.github.io/vit-tutorial/"' in citation
    after = notebook.read_text(encoding="utf-8")
    diff = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines()) and len(diff) == 1 and "a-fork" in diff[0][1]


# ----------------------------------------------------------------------------- the wheel, installed

SMOKE = textwrap.dedent("""
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    import torch
    import vit_tutorial as vt

    here = Path(vt.__file__).resolve()
    assert Path(sys.prefix).resolve() in here.parents, f"vit_tutorial came from {here}, not the fresh venv"
    print("vit_tutorial", vt.__version__, "from", here.parent)

    image = vt.load_image("cat")
    assert image.mode == "RGB" and min(image.size) > 100
    assert len(vt.imagenet_labels()) == 1000

    tiny, _, source = vt.load_model("tiny-digits", device_name="cpu", verbose=False)
    size = tiny.config.image_size
    with torch.no_grad():
        logits = tiny(pixel_values=torch.zeros(1, 3, size, size)).logits
    assert tuple(logits.shape) == (1, 10), logits.shape
    print("tiny-digits:", source)

    model, processor, source = vt.load_model("random", device_name="cpu", verbose=False)
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        logits = model(pixel_values=pixels).logits
    assert tuple(logits.shape) == (1, 1000) and torch.isfinite(logits).all()
    print("random:", source)

    if importlib.util.find_spec("vit_tutorial.explorers") is None:
        print("explorers: none in this version")
    else:
        explorers = importlib.import_module("vit_tutorial.explorers")
        for name in explorers.NAMES:
            assert explorers.module_source(name).strip(), name
        html = explorers.activations().static_html()
        assert 'data-explorer="activations"' in html, html[:500]
        print("explorers:", len(explorers.NAMES), "modules; activations as HTML:", len(html), "characters")
    print("SMOKE OK")
""")


@pytest.fixture(scope="module")
def fresh_venv(dists, tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed: {'python', 'bin', 'site', 'env'} (the environment to run it in)."""
    tmp_path = tmp_path_factory.mktemp("fresh")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    # a clean environment: with PYTHONPATH at a source tree, pip would take that vit_tutorial as installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                              "--no-index", str(dists["wheel"])], env=env, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    assert list(Path(fresh_site).glob("vit_tutorial-*.dist-info")), "the wheel did not land in the fresh venv"
    # then the dependencies, as a plain path line (the .pth files there, e.g. an editable vit_tutorial, are not read)
    shared = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    Path(fresh_site, "_shared_dependencies.pth").write_text("\n".join(shared) + "\n")
    env.update(HF_HUB_OFFLINE="1", VIT_TUTORIAL_CACHE=str(tmp_path / "cache"), VIT_TUTORIAL_DEVICE="cpu", MPLBACKEND="Agg")
    return {"python": python, "bin": python.parent, "site": Path(fresh_site), "env": env}


@pytest.mark.slow
def test_wheel_installs_and_works_in_a_fresh_venv(fresh_venv, tmp_path):
    result = subprocess.run([str(fresh_venv["python"]), "-I", "-c", SMOKE], cwd=tmp_path, env=fresh_venv["env"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "SMOKE OK" in result.stdout, result.stdout + result.stderr


GRADED_CHAPTER = "05_layernorm"  # two exercises, one of the quickest chapters to run


@pytest.mark.slow
def test_the_installed_package_hands_out_the_book_and_grades_from_an_empty_folder(fresh_venv, tmp_path):
    """No checkout anywhere: `vit-tutorial notebooks DIR` writes a learner's copy of the book the wheel ships, and
    the grader, run from an empty folder without --book, grades a hand-in against that book."""
    shipped = fresh_venv["site"] / "vit_tutorial" / "book"
    assert sorted(p.name for p in shipped.glob("*.ipynb")) == sorted(p.name for p in (ROOT / "book").glob("*.ipynb"))
    here = tmp_path / "empty"
    here.mkdir()
    env = {**fresh_venv["env"], "VIT_TUTORIAL_WEIGHTS": "random"}

    def run(*args, timeout=120):
        return subprocess.run([str(fresh_venv["bin"] / args[0]), *map(str, args[1:])], cwd=here, env=env,
                              capture_output=True, text=True, timeout=timeout)

    learner = run("vit-tutorial", "notebooks", "mine")
    assert learner.returncode == 0, learner.stdout + learner.stderr
    copies = sorted((here / "mine").glob("*.ipynb"))
    assert [p.name for p in copies] == sorted(p.name for p in shipped.glob("*.ipynb"))
    assert not any('"solution"' in p.read_text(encoding="utf-8") for p in copies), "the learner's copy holds solutions"
    (here / "theirs").mkdir()
    (here / "theirs" / "notes.txt").write_text("mine")
    refused = run("vit-tutorial", "notebooks", "theirs")  # a folder it did not create
    assert refused.returncode == 1 and "not empty" in refused.stderr and os.listdir(here / "theirs") == ["notes.txt"]

    (here / "alice").mkdir()  # the book's own notebook, solutions and all: every exercise passes
    shutil.copy2(shipped / f"{GRADED_CHAPTER}.ipynb", here / "alice" / f"{GRADED_CHAPTER}.ipynb")
    graded = run("vit-tutorial-grade", f"alice/{GRADED_CHAPTER}.ipynb", "--json", "grades.json", "--jobs", "1",
                 "--logs", "logs", timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    (result,) = json.loads((here / "grades.json").read_text())["submissions"]
    assert (result["status"], result["chapter"]) == ("graded", GRADED_CHAPTER), result
    assert result["total"] >= 2 and result["passed"] == result["total"], result


# ----------------------------------------------------------------------------- lint and hooks


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_config_catches_a_mistake(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "F401" in result.stdout


def test_pre_commit_runs_ruff_at_its_pin_and_the_notebook_check():
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    for constraints in ("constraints.txt", "constraints-transformers4.txt"):
        pin = re.search(r"(?m)^ruff==\S+", (ROOT / constraints).read_text()).group(0)
        assert hooks["ruff"]["additional_dependencies"] == [pin], f"the hook's ruff should be {constraints}'s {pin}"
    assert "tools/check_notebooks.py" in hooks["notebooks-without-outputs"]["entry"]
    if (BIN / "pre-commit").exists():
        result = subprocess.run([str(BIN / "pre-commit"), "validate-config", str(ROOT / ".pre-commit-config.yaml")],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def test_notebook_check_flags_outputs_and_clears_only_them(tmp_path, capsys):
    source = sorted((ROOT / "book").glob("*.ipynb"))[0]
    assert check_notebooks.main([str(source)]) == 0
    nb = json.loads(source.read_text(encoding="utf-8"))
    code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    nb["cells"][code]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    nb["cells"][code]["execution_count"] = 3
    dirty = tmp_path / source.name
    dirty.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert check_notebooks.main([str(dirty)]) == 1
    assert f"code cells [{code}]" in capsys.readouterr().err
    assert check_notebooks.main(["--clear", str(dirty)]) == 0
    assert dirty.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the install


def test_makefile_offers_cpu_and_cuda_torch():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"(?m)^TORCH \?= cpu$", makefile)
    assert "https://download.pytorch.org/whl/cpu" in makefile
    assert '"$(TORCH)" = cuda' in makefile
    assert "--no-index" in makefile, "a torch wheel already on the machine is used first (offline set-up)"
    readme = (ROOT / "README.md").read_text()
    assert "TORCH=cuda" in readme and "make lab" in readme


def test_lab_extra_renders_myst():
    """`make lab` installs jupyterlab-myst, at pins its extension accepts (JupyterLab 4.6 made it load disabled)."""
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text()
    lab = [Requirement(r) for r in re.findall(r'"([^"]+)"', re.search(r"(?m)^lab = \[(.*)\]", text).group(1))]
    assert {r.name for r in lab} == {"jupyterlab", "jupyterlab-myst"}
    for constraints in ("constraints.txt", "constraints-transformers4.txt"):
        pins = dict(re.findall(r"(?m)^(jupyterlab|jupyterlab[-_]myst)==(\S+)", (ROOT / constraints).read_text()))
        pins = {name.replace("_", "-"): version for name, version in pins.items()}
        for req in lab:
            assert req.specifier.contains(pins[req.name]), f"{constraints}: {req.name}=={pins[req.name]} is outside {req}"
