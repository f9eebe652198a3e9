"""The explorers (vit_tutorial.explorers): their data, their mime bundle, and each one driven
in headless Chromium from a small static page served on loopback (the book's host.js and
modules, nothing from the network). The built book's pages are driven by test_browser.py."""
from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from _explorer_set import explorer_set
from vit_tutorial import explorers

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _host_extension():
    spec = importlib.util.spec_from_file_location("explorers_host", ROOT / "book" / "_ext" / "explorers_host.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- packing
@pytest.mark.parametrize("bits", [8, 4])
def test_pack_round_trip_within_half_a_step(bits):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 7, 33)) * np.arange(1, 34)  # rows of very different ranges
    packed = explorers.pack(a, bits)
    back = explorers.unpack(packed)
    assert back.shape == a.shape
    rows = a.reshape(-1, 33)
    step = (rows.max(1) - rows.min(1)) / ((1 << bits) - 1)
    err = np.abs(back - a).reshape(-1, 33).max(1)
    assert (err <= step / 2 + 1e-5 * np.abs(rows).max(1)).all()
    # the extremes of every row survive (up to float32)
    np.testing.assert_allclose(back.reshape(-1, 33).max(1), rows.max(1), rtol=1e-6)


def test_pack_rejects_bad_input():
    with pytest.raises(ValueError, match="bits"):
        explorers.pack(np.zeros(3), bits=5)
    with pytest.raises(ValueError, match="NaN"):
        explorers.pack(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="non-empty"):
        explorers.pack(np.zeros((2, 0)))


def test_unknown_explorer_is_refused():
    with pytest.raises(ValueError, match="unknown explorer"):
        explorers.make("nope", {})


def test_every_name_has_a_module_with_render():
    from vit_tutorial.explorers import bundle

    for name in explorers.NAMES:
        assert "export default { render }" in (bundle.JS_DIR / f"{name}.js").read_text(), name
        # (bundle._var: "draw-digit" -> __vt_draw_digit)
        source = explorers.module_source(name)  # what anywidget runs: one ES module, its imports linked in
        assert len(re.findall(r"^export default", source, re.M)) == 1 and source.rstrip().endswith(f"export default {bundle._var(name)}.__default__;")
        assert not re.search(r"^\s*import\b|\bimport\s*\(", source, re.M), f"{name}: an import is left in the linked module"
        assert "http://" not in source and "https://" not in source, f"{name}: no network in a module"
        script = bundle.book_script(name)  # what the book loads: a classic script, no import or export at all
        assert not re.search(r"^\s*(import|export)\b|\bimport\s*\(", script, re.M), name
        assert "function vtRoot(" in script and f'vt.explorers["{name}"]' in script, name


def test_mime_bundle_has_widget_view_and_static_html():
    e = explorers.activations(torch.randn(1000))
    data, _ = e._repr_mimebundle_()
    assert WIDGET_VIEW in data and "text/html" in data
    html = data["text/html"]
    assert 'data-explorer="activations"' in html
    payload = re.search(r'<script type="application/json" class="vt-explorer-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(payload) == e.data
    assert "<script src" not in html and "import(" not in html  # the host loads the module, not the output


def test_static_html_escapes_script_end():
    html = explorers.static_html("activations", {"stamp": "</script><b>x"})
    assert html.count("</script>") == 1


# --------------------------------------------------------------------------- what the explorers send
def test_stream_norms_match_huggingface(model):
    """The residual explorer's stream lengths are those of HuggingFace's hidden states."""
    import vit_tutorial as vt
    from vit_tutorial.bridge import vit_model

    pixels = vt.preprocess(vt.load_image("cat")).to(next(model.parameters()).device)
    with torch.no_grad():
        emb = vit_model(model).embeddings(pixels)
        hf = model(pixels, output_hidden_states=True).hidden_states
    norms = explorers.stream_norms(emb, model)
    expected = torch.stack([h[0].norm(dim=-1) for h in hf]).cpu()
    # HF's last hidden state is after the final LayerNorm in some versions: compare the layers' outputs
    torch.testing.assert_close(norms["stream"][:-1], expected[:-1], rtol=1e-4, atol=1e-4)
    assert norms["attention"].shape == norms["mlp"].shape == (12, 197)
    # stream = previous stream + attention + mlp, so its length is at most the sum of the three
    assert (norms["stream"][1:] <= norms["stream"][:-1] + norms["attention"] + norms["mlp"] + 1e-3).all()


def test_attention_sends_the_chosen_queries_within_4_bits():
    g = torch.Generator().manual_seed(1)
    maps = torch.softmax(torch.randn(2, 3, 17, 17, generator=g), -1)  # a 4 x 4 grid
    e = explorers.attention(np.zeros((32, 32, 3)), maps, query_stride=2)
    queries = e.data["queries"]
    assert queries == [0, 1, 3, 9, 11]
    sent = explorers.unpack(e.data["maps"])  # (2, 3, 5, 16)
    want = maps[:, :, queries, 1:].numpy()
    step = (want.max(-1, keepdims=True) - want.min(-1, keepdims=True)) / 15
    assert (np.abs(sent - want) <= step / 2 + 1e-6).all()
    np.testing.assert_allclose(explorers.unpack(e.data["cls"]), maps[:, :, queries, 0].numpy(), atol=1 / 255)
    with pytest.raises(ValueError, match="layers, heads"):
        explorers.attention(np.zeros((32, 32, 3)), maps[0])
    with pytest.raises(ValueError, match="query token"):
        explorers.attention(np.zeros((32, 32, 3)), maps, query=17)


def test_layernorm_statistics_are_exact():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 5, 64, generator=g, dtype=torch.float64) * 3 + 1
    w, b = torch.rand(64, generator=g, dtype=torch.float64), torch.randn(64, generator=g, dtype=torch.float64)
    e = explorers.layernorm(x, w, b, 1e-6)
    ref = torch.nn.functional.layer_norm(x, (64,), w, b, 1e-6)[0]
    stats = np.array(e.data["stats"])
    np.testing.assert_allclose(stats[:, 0], x[0].mean(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(stats[:, 4], ref.mean(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(stats[:, 5], ref.std(-1, unbiased=False).numpy(), atol=1e-5)
    # what the page draws: the 8-bit x normalised with the sent mean and 1/sqrt(var + eps), times the
    # 8-bit γ, plus the 8-bit β, is LayerNorm's output to within those half steps
    xq, wq, bq = (explorers.unpack(e.data[k]) for k in ("x", "weight", "bias"))
    centre = np.array(e.data["centre"])
    page = (xq - centre[:, :1]) * centre[:, 1:] * wq + bq
    x0, normed = x[0].numpy(), ((x[0] - x[0].mean(-1, keepdim=True)) / (x[0].var(-1, unbiased=False, keepdim=True) + 1e-6).sqrt()).numpy()
    half = lambda v: (v.max(-1, keepdims=True) - v.min(-1, keepdims=True)) / 510  # noqa: E731
    bound = half(x0) * centre[:, 1:] * np.abs(w.numpy()) + half(w.numpy()) * np.abs(normed) + half(b.numpy()) + 1e-6
    assert (np.abs(page - ref.numpy()) <= bound).all()
    with pytest.raises(ValueError, match="weight and bias"):
        explorers.layernorm(x, w[:3], b)


def test_positions_drops_cls_and_checks_index():
    pos = torch.randn(1, 197, 8)
    e = explorers.positions(pos)
    assert explorers.unpack(e.data["embeddings"]).shape == (196, 8)
    with pytest.raises(ValueError, match="index"):
        explorers.positions(pos, index=196)


def test_predictions_top5_match_the_model(model):
    import vit_tutorial as vt
    from vit_tutorial import head

    e = explorers.predictions(model, {"the cat": "cat"})
    (photo,) = e.data["photos"]
    with torch.no_grad():
        logits = model(vt.preprocess(vt.load_image("cat")).to(next(model.parameters()).device)).logits
    want = head.top_k(logits, k=5)[0]
    assert photo["title"] == "the cat" and [label for label, _ in photo["top"]] == [label for label, _ in want]
    np.testing.assert_allclose([p for _, p in photo["top"]], [p for _, p in want], atol=1e-4)
    assert photo["photo"].startswith("data:image/jpeg;base64,")


# --------------------------------------------------------------------------- the explorers in a browser
@pytest.fixture(scope="module")
def harness(tmp_path_factory, model):
    """A static page holding every explorer's text/html, with _static/explorers from the host extension."""
    root = tmp_path_factory.mktemp("explorers")
    host = _host_extension()
    host.write_modules(root)
    items = explorer_set(model)
    body = "\n".join(f"<section>{e._repr_mimebundle_()[0]['text/html']}</section>" for e in items)
    (root / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        + host.head_html([e.name for e in items], lambda f: f"_static/explorers/{f}") + "</head>"
        f"<body style='max-width:900px;margin:auto'>{body}</body></html>", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"http": f"http://127.0.0.1:{httpd.server_address[1]}/index.html", "file": (root / "index.html").as_uri(),
           "names": [e.name for e in items]}
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("scheme, width", [("http", 1280), ("http", 400), ("file", 1280)])
def test_every_explorer_works_offline(harness, chromium, scheme, width):
    """Over http and opened from disk (file://, where browsers refuse module scripts): every explorer
    draws and answers every control, by mouse and by keyboard."""
    from _explorer_driver import block_network, drive, drive_keyboard

    url, names = harness[scheme], harness["names"]
    context = chromium.new_context(viewport={"width": width, "height": 900})
    blocked, errors = block_network(context), []
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    reports = drive(page)
    by_keyboard = drive_keyboard(page)
    page.screenshot(path=str(_shots() / f"explorers-{scheme}-{width}.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    context.close()
    assert [r["name"] for r in reports] == names
    for r in reports:
        assert r["failed"] is None, f"{r['name']}: {r['failed']}"
        assert r["controls"], f"{r['name']}: no controls found"
        assert not r["unchanged"], f"{r['name']}: the drawing did not change for {r['unchanged']}"
    assert not by_keyboard, f"controls a key press did not operate: {by_keyboard}"
    assert not errors, errors
    assert not blocked, blocked
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"


def _shots() -> Path:
    path = ROOT / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
