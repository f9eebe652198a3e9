"""The browser's ViT (vit_tutorial/explorers/js/vit.js) against PyTorch, in headless Chromium.

vit.js runs on a static page served on loopback (network blocked) and its logits, attention
weights and hidden states are compared with HuggingFace's ``ViTForImageClassification`` under
the book's tolerance rule (``vit_tutorial.tolerance``): on the shipped tiny digits model and on
ViT-B/16 (random and trained-like weights, float32), through WebAssembly SIMD and through plain
JavaScript; int8 and float16 weights against PyTorch on the same rounded weights. Also: its erf
against scipy's, its resize against PIL's, and the export (int8 per output channel, shards).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vit_tutorial import tiny
from vit_tutorial.explorers import _base
from vit_tutorial.tolerance import ATTENTION_WEIGHTS, assert_equivalent
from vit_tutorial.weights import browser_model
from vit_tutorial.weights import tiny as tiny_files

ROOT = Path(__file__).resolve().parents[1]
VIT_JS = _base.JS_DIR / "vit.js"
MATMUL_JS = _base.JS_DIR / "matmul.js"  # vit.js imports it: the matrix product, plain and WebAssembly SIMD
TIMEOUT_MS = 600_000  # ViT-B/16 in plain JavaScript on a loaded 2-core machine


# --------------------------------------------------------------------------- export and quantisation (no browser)
def test_quantise_int8_per_output_channel():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 5, generator=g) * torch.tensor([1e-3, 1, 10, 100, 0, 3])[:, None]
    q, scale = browser_model.quantise_int8(w)
    assert q.dtype == torch.int8 and q.shape == w.shape and scale.shape == (6,)
    assert scale[4] == 1 and (q[4] == 0).all()  # an all-zero row: scale 1, values 0
    assert (q.abs().amax(dim=1)[[0, 1, 2, 3, 5]] == 127).all()  # each row uses the full range
    err = (browser_model.dequantise(q, scale) - w).abs()
    assert (err <= scale[:, None] / 2 + 1e-12).all()  # at most half a step per row
    with pytest.raises(ValueError, match="weight matrix"):
        browser_model.quantise_int8(torch.ones(3))


def test_export_writes_shards_and_a_manifest(tmp_path):
    model = tiny.load_tiny()
    manifest = browser_model.export(model, tmp_path / "w", shard_bytes=40_000)
    files = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert files == sorted([f["name"] for f in manifest["files"]] + ["vit.json"]) and len(manifest["files"]) > 3
    from safetensors import safe_open

    names = set()
    for f in manifest["files"]:
        path = tmp_path / "w" / f["name"]
        assert f["bytes"] == path.stat().st_size
        assert path.stat().st_mode & 0o044 == 0o044, "readable by a web server running as another user"
        assert f["bytes"] <= 40_000 + 70_000  # at most the limit, unless one tensor alone is larger (33 KB here)
        with safe_open(str(path), "pt") as st:
            for k in st.keys():
                names.add(k)
                if k + ".scale" in st.keys() or k.endswith(".scale"):
                    continue
                if browser_model.is_matrix(k, st.get_tensor(k)):
                    pytest.fail(f"{k} has no .scale in the same shard")
    assert "vit.encoder.layer.0.attention.attention.query.weight.scale" in names
    assert json.loads((tmp_path / "w" / "vit.json").read_text())["id"] == manifest["id"]
    assert manifest["config"]["hidden_size"] == 64 and manifest["config"]["id2label"]["3"] == "3"
    with pytest.raises(FileExistsError, match="not empty"):
        browser_model.export(model, tmp_path / "w")
    with pytest.raises(ValueError, match="dtype"):
        browser_model.export(model, tmp_path / "x", dtype="int4")


def test_export_for_book_only_in_a_build(tmp_path, monkeypatch):
    model = tiny.load_tiny()
    monkeypatch.delenv(browser_model.STORE_ENV, raising=False)
    assert browser_model.export_for_book(model) is None
    monkeypatch.setenv(browser_model.STORE_ENV, str(tmp_path / "store"))
    first = browser_model.export_for_book(model)
    again = browser_model.export_for_book(model)
    assert first["id"] == again["id"] and first["path"] == f"_static/vit-weights/{first['id']}/vit.json"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [first["id"]]  # once, no leftovers


def test_the_book_copies_the_weights_its_pages_use(tmp_path):
    from test_explorers import _host_extension

    host = _host_extension()
    store, out = tmp_path / "store", tmp_path / "html"
    (store / "0123456789abcdef").mkdir(parents=True)
    (store / "0123456789abcdef" / "vit.json").write_text("{}")
    (store / "0123456789abcdef" / "model-00001-of-00001.safetensors").write_bytes(b"x" * 10)
    (out / "book").mkdir(parents=True)
    (out / "_static" / "vit-weights" / "ffffffffffffffff").mkdir(parents=True)  # from an earlier build
    (out / "book" / "09.html").write_text('{"path":"_static/vit-weights/0123456789abcdef/vit.json"}{"path":"_static/vit-weights/aaaaaaaaaaaaaaaa/vit.json"}')
    copied, missing = host.copy_weights(out, store)
    assert copied == ["0123456789abcdef"] and missing == ["aaaaaaaaaaaaaaaa"]
    assert (out / "_static/vit-weights/0123456789abcdef/model-00001-of-00001.safetensors").read_bytes() == b"x" * 10
    assert not (out / "_static/vit-weights/ffffffffffffffff").exists()


def test_quantisation_cost_counts_agreement():
    model = tiny.load_tiny()
    pixels = tiny.digits_to_pixels(tiny.load_digits_split().test_images[:16])
    cost = browser_model.quantisation_cost(model, pixels)
    assert cost["images"] == 16 and 0 < cost["max_logit_diff"] < 0.2 * cost["logit_range"]
    assert cost["top1"] >= 15 and cost["topk"] <= 16
    assert browser_model.quantisation_cost(model, pixels, "float32")["max_logit_diff"] == 0


def test_the_wasm_in_matmul_js_is_what_the_tool_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("matmul_wasm", ROOT / "tools" / "matmul_wasm.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert f'const MATMUL_WASM = "{tool.encoded()}";' in MATMUL_JS.read_text(encoding="utf-8")
    assert tool.module()[:8] == b"\0asm\x01\0\0\0"


def test_explorer_modules_hold_vit_js_linked_in():
    for name in ("draw-digit", "your-photo"):
        source = _base.module_source(name)  # what anywidget runs: one ES module, vit.js linked in (explorers/bundle.py)
        exports = re.findall(r"^export .*", source, flags=re.M)
        assert "function vitTrace(" in source and "function matmul(" in source and len(exports) == 1 and exports[0].startswith("export default"), exports
    assert "export function vitTrace" in VIT_JS.read_text()  # the file itself stays an ES module
    worker = _base.library_source("vit")  # what the photo explorer's Web Worker runs: a classic script
    assert "function vitTrace(" in worker and "function matmul(" in worker, "vit.js and its matmul.js, linked"
    assert not re.findall(r"^\s*(export|import)\b", worker, flags=re.M)
    assert worker.rstrip().endswith("Object.assign(globalThis, __vt_vit);\n})();"), "its exports become global names"


# --------------------------------------------------------------------------- the browser
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A loopback server over a folder holding vit.js (and its matmul.js) and a page that imports it (window.vit)."""
    root = tmp_path_factory.mktemp("vitjs")
    for file in (VIT_JS, MATMUL_JS):
        shutil.copy(file, root / file.name)
    (root / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><script type="module">import * as vit from "./vit.js"; window.vit = vit;</script>', encoding="utf-8"
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def page(chromium, site):
    from _explorer_driver import block_network

    context = chromium.new_context()
    blocked = block_network(context)
    p = context.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    p.goto(site[1] + "index.html")
    p.wait_for_function("() => window.vit !== undefined")
    yield p
    context.close()
    assert not blocked, blocked


# Run vitTrace on every image of pixels.bin; the results come back as base64 float32.
JS_RUN = """
async ([files, config, pixelsFile, simd]) => {
  const get = async (f) => (await fetch(f)).arrayBuffer();
  const model = vit.loadModel(await Promise.all(files.map(get)), config);
  const usingSimd = vit.useSimd(simd);
  const px = new Float32Array(await get(pixelsFile)), per = 3 * model.config.image_size ** 2;
  const parts = {logits: [], attentions: [], hidden: []};
  for (let i = 0; i < px.length / per; i++) {
    const out = vit.vitTrace(px.subarray(i * per, (i + 1) * per), model);
    parts.logits.push(out.logits); parts.attentions.push(...out.attentions); parts.hidden.push(...out.hiddenStates);
  }
  vit.useSimd(true);
  const b64 = (arrays) => new Promise((resolve) => { const r = new FileReader();
    r.onload = () => resolve(r.result.slice(r.result.indexOf(',') + 1)); r.readAsDataURL(new Blob(arrays)); });
  return {simd: usingSimd, logits: await b64(parts.logits), attentions: await b64(parts.attentions), hidden: await b64(parts.hidden)};
}
"""


def _floats(b64: str, shape) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(b64), dtype="<f4").copy()).reshape(shape)


def run_js(page, site, model, pixels: torch.Tensor, *, simd=True, dtype="float32", files=None) -> dict:
    """vit.js's logits (B, C), attentions (L of (B, H, N, N)) and hidden states on ``pixels``."""
    root, _ = site
    folder = root / f"m{id(model)}-{dtype}"
    if files is None:
        if not folder.exists():
            browser_model.export(model, folder, dtype=dtype, shard_bytes=10**12)
        files = [f"{folder.name}/{f['name']}" for f in json.loads((folder / "vit.json").read_text())["files"]]
    config = browser_model.config_json(model)
    pixels.detach().cpu().float().numpy().astype("<f4").tofile(root / "pixels.bin")
    out = page.evaluate(JS_RUN, [files, config, "pixels.bin", simd])
    assert out["simd"] == simd, "WebAssembly SIMD is not available in this Chromium" if simd else "SIMD did not switch off"
    c = model.config
    b, n, L = pixels.shape[0], (c.image_size // c.patch_size) ** 2 + 1, c.num_hidden_layers
    att = _floats(out["attentions"], (b, L, c.num_attention_heads, n, n))
    hidden = _floats(out["hidden"], (b, L + 1, n, c.hidden_size))
    return {"logits": _floats(out["logits"], (b, c.num_labels)), "attentions": [att[:, i] for i in range(L)], "hidden": [hidden[:, i] for i in range(L + 1)]}


def compare_with_huggingface(js: dict, model, pixels: torch.Tensor) -> None:
    with torch.no_grad():
        hf = model.cpu()(pixels.cpu(), output_attentions=True, output_hidden_states=True)
    assert_equivalent(js["logits"], hf.logits, what="logits")
    for i, (ours, theirs) in enumerate(zip(js["attentions"], hf.attentions)):
        assert_equivalent(ours, theirs, what=f"attention weights, layer {i}", **ATTENTION_WEIGHTS)
    for i, (ours, theirs) in enumerate(zip(js["hidden"][:-1], hf.hidden_states[:-1])):  # HF's last may be normed
        assert_equivalent(ours, theirs, what=f"hidden state {i}")


@pytest.mark.browser
@pytest.mark.parametrize("simd", [True, False], ids=["wasm-simd", "plain-js"])
def test_tiny_model_in_the_browser_equals_pytorch(page, site, simd):
    model = tiny.load_tiny()
    pixels = tiny.digits_to_pixels(tiny.load_digits_split().test_images[:8])
    shipped = site[0] / "tiny-digits.safetensors"
    shutil.copy(tiny_files._package_file(tiny_files.WEIGHTS_PATH), shipped)  # the very file the package ships
    compare_with_huggingface(run_js(page, site, model, pixels, simd=simd, files=[shipped.name]), model, pixels)


@pytest.fixture(scope="module")
def photos():
    import vit_tutorial as vt

    return torch.cat([vt.preprocess(vt.load_image(n)) for n in ("cat", "rocket")])  # (2, 3, 224, 224)


@pytest.mark.browser
@pytest.mark.parametrize("weights", ["random", "trained-like"])
def test_vit_b16_in_the_browser_equals_pytorch(page, site, photos, weights, request):
    model = request.getfixturevalue("model" if weights == "random" else "trained_like")
    compare_with_huggingface(run_js(page, site, model, photos), model, photos)


@pytest.mark.browser
def test_vit_b16_in_plain_javascript_equals_pytorch(page, site, photos, model):
    compare_with_huggingface(run_js(page, site, model, photos[:1], simd=False), model, photos[:1])


@pytest.mark.browser
@pytest.mark.parametrize("dtype", ["int8", "float16"])
def test_rounded_weights_in_the_browser_equal_pytorch_on_the_same_weights(page, site, photos, trained_like, dtype):
    js = run_js(page, site, trained_like, photos, dtype=dtype)
    twin = browser_model.quantised_copy(trained_like.cpu(), dtype)
    with torch.no_grad():
        theirs = twin(photos).logits
    assert_equivalent(js["logits"], theirs, what=f"logits with {dtype} weights")
    assert (js["logits"].argmax(-1) == theirs.argmax(-1)).all()


@pytest.mark.browser
def test_erf_and_gelu_to_float32_accuracy(page):
    from scipy.special import erf

    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, 1e-8, -1e-30, 1.9999999, 2.0, 3.9999999, 4.0, 1e10]])
    got = np.array(page.evaluate("(xs) => xs.map((x) => vit.erf(x))", x.tolist()))
    ref = erf(x)
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    assert rel[ref != 0].max() < 2**-24, f"erf's largest relative error {rel.max():.2e} (float32's half step is 6e-8)"
    gelu = np.array(page.evaluate("(xs) => xs.map((x) => vit.gelu(x))", x[:40001].tolist()))
    want = torch.nn.functional.gelu(torch.from_numpy(x[:40001])).numpy()  # float64, exact erf
    # float32's half step, relative to the input: where erf rounds to -1 (x < -5.5) both give 0, not -1e-9
    err = np.abs(gelu - want) / (np.abs(want) + np.abs(x[:40001]) + 1e-300)
    assert err.max() < 2**-24, f"gelu's largest error {err.max():.2e} x |x|"


@pytest.mark.browser
def test_resize_equals_pil(page):
    from PIL import Image

    rng = np.random.default_rng(0)
    for w, h in [(640, 480), (100, 300), (224, 224), (50, 60), (301, 299), (226, 223), (1000, 200)]:
        a = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
        a = np.asarray(Image.fromarray(a).resize((w, h), Image.BICUBIC))  # smooth, with detail
        want = np.asarray(Image.fromarray(a).resize((224, 224), Image.BILINEAR))
        got = page.evaluate(
            "([b, w, h]) => Array.from(vit.preprocess(Uint8Array.from(atob(b), c => c.charCodeAt(0)), w, h).resized)",
            [base64.b64encode(a.tobytes()).decode(), w, h],
        )
        diff = np.abs(np.array(got).reshape(224, 224, 3).astype(int) - want)
        assert diff.max() <= 1, f"{w}x{h}: resize differs from PIL's by up to {diff.max()} grey levels"
        assert (diff > 0).sum() == 0, f"{w}x{h}: {(diff > 0).sum()} values differ from PIL's (by one grey level)"
