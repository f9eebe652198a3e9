"""The explorers that run the model in the page, driven in headless Chromium (network blocked):
"draw a digit" (appendix A2, the tiny ViT on every stroke) and "your own photo" (chapter 9,
ViT-B/16 in a Web Worker), over http and from a file on disk, at 1280 and 400 px, by mouse and
by keyboard. What they computed is checked against PyTorch on the same input.

The page loads the book's classic scripts (explorers/bundle.py), which browsers run from file:// too;
from disk the photo explorer's weights come from its file picker, as a reader's would.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vit_tutorial import explorers, tiny
from vit_tutorial.tolerance import assert_equivalent
from vit_tutorial.weights import browser_model

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
RUN_MS = 600_000  # ViT-B/16 in the page on a loaded 2-core machine, with 88 MB to read and check


def _host_extension():
    from test_explorers import _host_extension as load

    return load()


@pytest.fixture(scope="module")
def harness(tmp_path_factory, model):
    """index.html (served) and disk.html (opened from disk): the same page, both explorers, the book's classic
    scripts in _static/explorers; the photo explorer's weights (the tests' random ViT-B/16, int8) in weights/."""
    root = tmp_path_factory.mktemp("in-page")
    host = _host_extension()
    host.write_modules(root)
    manifest = browser_model.export(model, root / "weights")
    items = [explorers.draw_digit(), explorers.your_photo(model, weights={**manifest, "path": "weights/vit.json"}, source="random weights (test)")]
    body = "\n".join(f"<section>{e._repr_mimebundle_()[0]['text/html']}</section>" for e in items)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>{head}</head>"
        f"<body style='max-width:900px;margin:auto'>{body}</body></html>"
    )
    # the book's own page head: classic scripts, so the same page works over http and from disk (file://)
    head = host.head_html([e.name for e in items], lambda f: f"_static/explorers/{f}")
    for name in ("index.html", "disk.html"):
        (root / name).write_text(page.replace("{head}", head, 1), encoding="utf-8")  # not format: the data is JSON, full of braces
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {"root": root, "http": f"http://127.0.0.1:{httpd.server_address[1]}/index.html", "file": (root / "disk.html").as_uri(), "manifest": manifest}
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def open_page(chromium, harness):
    from _explorer_driver import block_network

    opened = []

    def go(how: str, width: int = 1280):
        context = chromium.new_context(viewport={"width": width, "height": 900})
        blocked, errors = block_network(context), []
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(harness[how], wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('[data-explorer][data-first-picture]').length === 2")
        opened.append((context, blocked, errors))
        return page

    yield go
    for context, blocked, errors in opened:
        context.close()
        assert not errors, errors
        assert not blocked, blocked


DIGIT = "[data-explorer='draw-digit']"
PHOTO = "[data-explorer='your-photo']"


def _tiny_logits(grid) -> torch.Tensor:
    model = tiny.load_tiny()
    with torch.no_grad():
        return model(tiny.digits_to_pixels(torch.tensor(grid, dtype=torch.float32).reshape(1, 8, 8))).logits


def _read(page, selector) -> tuple[list, torch.Tensor]:
    el = page.locator(selector)
    return json.loads(el.get_attribute("data-input")), torch.tensor([json.loads(el.get_attribute("data-logits"))])


@pytest.mark.parametrize("how,width", [("http", 1280), ("file", 400)])
def test_draw_a_seven_with_the_mouse(open_page, how, width):
    page = open_page(how, width)
    page.locator(DIGIT).scroll_into_view_if_needed()
    first, _ = _read(page, DIGIT)
    pad = page.locator(f"{DIGIT} canvas.vt-pad")
    box = pad.bounding_box()
    at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])  # noqa: E731
    for stroke in ([(0.2, 0.15), (0.5, 0.15), (0.8, 0.15)], [(0.8, 0.15), (0.65, 0.5), (0.45, 0.9)]):
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(*at(x, y), steps=8)
        page.mouse.up()
    page.wait_for_function(f'(first) => document.querySelector("{DIGIT}").dataset.input !== first', arg=json.dumps(first))
    page.wait_for_timeout(200)  # the last frame's run
    grid, logits = _read(page, DIGIT)
    assert len(grid) == 64 and all(0 <= v <= 16 and v == int(v) for v in grid) and sum(v > 0 for v in grid) >= 6, grid
    assert grid != first
    assert_equivalent(logits, _tiny_logits(grid), what="the page's logits for the drawn grid")
    page.screenshot(path=str(_shots() / f"draw-digit-{how}-{width}.png"))


@pytest.mark.parametrize("how", ["http", "file"])
def test_sample_digits_from_the_keyboard(open_page, how):
    from vit_tutorial.explorers.in_browser import digit_samples

    page = open_page(how)
    samples = digit_samples()
    buttons = page.locator(f"{DIGIT} .vt-actions button")
    assert buttons.count() == 1 + len(samples)  # clear, then the samples
    page.locator(f"{DIGIT} .vt-actions button").first.focus()
    for k, key in ((3, "Enter"), (7, "Space")):
        for _ in range(4):  # Tab from "clear" to sample 3 (the fourth button after it), then on to sample 7
            page.keyboard.press("Tab")
        page.keyboard.press(key)
        # the grid as JSON.stringify writes it: no spaces
        page.wait_for_function(f'(g) => document.querySelector("{DIGIT}").dataset.input === g', arg=json.dumps(samples[k]["grid"], separators=(",", ":")))
        grid, logits = _read(page, DIGIT)
        assert grid == samples[k]["grid"]
        assert_equivalent(logits, _tiny_logits(grid), what=f"the page's logits for sample {k}")
        assert int(logits.argmax()) == samples[k]["label"]  # held-out digits the model gets right


@pytest.mark.parametrize("how,width", [("http", 1280), ("http", 400), ("file", 1280), ("file", 400)])
def test_every_control_by_mouse_and_keyboard(open_page, how, width):
    from _explorer_driver import drive, drive_keyboard

    page = open_page(how, width)
    reports = drive(page)
    assert [r["name"] for r in reports] == ["draw-digit", "your-photo"]
    for r in reports:
        assert r["failed"] is None and r["controls"] and not r["unchanged"], r
    assert not drive_keyboard(page)
    assert page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    page.screenshot(path=str(_shots() / f"in-page-{how}-{width}.png"), full_page=True)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    """A PNG of odd size (so the resize does work) and the rocket JPEG as it ships."""
    from PIL import Image

    import vit_tutorial as vt

    folder = tmp_path_factory.mktemp("photos")
    vt.load_image("astronaut").resize((333, 250), Image.BICUBIC).save(folder / "astronaut.png")
    return {"png": folder / "astronaut.png", "jpeg": ROOT / "vit_tutorial" / "data" / "images" / "rocket.jpg"}


@pytest.mark.parametrize("how,width,kind", [("http", 1280, "jpeg"), ("file", 400, "png")])
def test_your_photo_runs_vit_b16_in_the_page(open_page, harness, photo_files, model, how, width, kind):
    from vit_tutorial import head
    from vit_tutorial.images import preprocess_steps

    page = open_page(how, width)
    root = page.locator(PHOTO)
    root.scroll_into_view_if_needed()
    root.locator("input[type=file][accept='image/*']").set_input_files(str(photo_files[kind]))
    page.wait_for_function(f'() => document.querySelector("{PHOTO}").vtInput !== undefined')
    root.locator("button.vt-run").click()
    if how == "file":  # the page can't read files next to it: the reader picks them
        picker = root.locator("input[type=file][multiple]")
        picker.wait_for(state="visible")
        assert "serve the book" in root.locator(".vt-status").inner_text()
        picker.set_input_files([str(harness["root"] / "weights" / n) for n in ["vit.json"] + [f["name"] for f in harness["manifest"]["files"]]])
    page.wait_for_function(f"() => ['done', 'error'].includes(document.querySelector(\"{PHOTO}\").dataset.state)", timeout=RUN_MS, polling=500)
    assert root.get_attribute("data-state") == "done", root.locator(".vt-status").inner_text()
    resized = np.array(page.evaluate(f'() => Array.from(document.querySelector("{PHOTO}").vtInput)'), dtype=np.int64)
    want = preprocess_steps(str(photo_files[kind]))["array"].astype(np.int64).reshape(-1)
    assert np.abs(resized - want).max() <= 1, f"the page's preprocessing differs from PIL's by {np.abs(resized - want).max()} levels"
    top5, logits = json.loads(root.get_attribute("data-top5")), torch.tensor([json.loads(root.get_attribute("data-logits"))])
    pixels = torch.from_numpy(((resized.reshape(224, 224, 3) / 255 - 0.5) / 0.5).astype(np.float32).transpose(2, 0, 1).copy())[None]
    twin = browser_model.quantised_copy(model.cpu(), "int8")  # the weights the page ran on
    with torch.no_grad():
        theirs = twin(pixels).logits
    assert_equivalent(logits, theirs, what="the page's logits")
    want_top = head.top_k(theirs, k=5, labels=browser_model.labels_of(model))[0]
    assert [label for label, _ in top5] == [label for label, _ in want_top]
    np.testing.assert_allclose([p for _, p in top5], [p for _, p in want_top], rtol=1e-3, atol=1e-6)
    assert "computed in your browser" in root.locator(".vt-readout").inner_text()
    page.screenshot(path=str(_shots() / f"your-photo-{how}-{width}.png"), full_page=True)


def _shots() -> Path:
    path = ROOT / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
