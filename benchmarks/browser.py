"""The ViT that runs in the reader's browser (vit_tutorial/explorers/js/vit.js), timed in headless Chromium.

* the tiny digits model (A2's "draw a digit"): one forward pass per drawing, float32 weights;
* ViT-B/16 (chapter 9's "your own photo"): one forward pass per photo, on the int8 weights the
  book exports (random weights: the time does not depend on their values);

each through WebAssembly SIMD (what a current browser uses) and through plain JavaScript (the
fallback). Medians after a warm-up run; the page is served on loopback, the network blocked.
Issue 25's targets: tiny <= 20 ms (the model follows the pen), ViT-B/16 <= 10 s (stretch: 3 s).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

import common

CHROMIUM = "/usr/bin/chromium"

JS_TIME = """
async ([files, config, repeats, simd, size]) => {
  const model = vit.loadModel(await Promise.all(files.map(async (f) => (await fetch(f)).arrayBuffer())), config);
  const on = vit.useSimd(simd);
  const pixels = new Float32Array(3 * size * size).map((_, i) => Math.sin(i) * 0.9);
  const times = [];
  for (let r = 0; r <= repeats; r++) {  // the first run warms the JIT up and is not counted
    const t0 = performance.now();
    vit.vitTrace(pixels, model);
    if (r) times.push(performance.now() - t0);
  }
  vit.useSimd(true);
  return {simd: on, ms: times};
}
"""


def bench(quick: bool = False, log=print) -> dict:
    import torch  # noqa: F401  (the export below needs it)
    from playwright.sync_api import sync_playwright

    import vit_tutorial as vt
    from vit_tutorial.explorers import _base
    from vit_tutorial.weights import browser_model, tiny

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for file in ("vit.js", "matmul.js"):  # vit.js imports matmul.js
            shutil.copy(_base.JS_DIR / file, root / file)
        shutil.copy(tiny._package_file(tiny.WEIGHTS_PATH), root / "tiny.safetensors")
        manifest = browser_model.export(vt.random_model(seed=0), root / "vitb")
        (root / "index.html").write_text('<!doctype html><script type="module">import * as vit from "./vit.js";window.vit = vit;</script>', encoding="utf-8")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *a: None
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        vitb = [f"vitb/{f['name']}" for f in manifest["files"]]
        cases = [  # the tiny file's metadata holds its architecture; the export's manifest holds ViT-B/16's config
            ("tiny digits ViT, float32", ["tiny.safetensors"], None, 32, 20 if quick else 100, 20 if quick else 100),
            ("ViT-B/16, int8", vitb, manifest["config"], 224, 2 if quick else 5, 1 if quick else 2),
        ]
        rows = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"])
                page = browser.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1") else r.abort())
                page.set_default_timeout(1_800_000)
                page.goto(url)
                page.wait_for_function("() => window.vit !== undefined")
                version = browser.version
                for what, files, config, size, simd_repeats, js_repeats in cases:
                    for simd, repeats in ((True, simd_repeats), (False, js_repeats)):
                        load = common.loadavg()
                        out = page.evaluate(JS_TIME, [files, config, repeats, simd, size])
                        row = {
                            "what": what,
                            "path": "WebAssembly SIMD" if out["simd"] else "plain JavaScript",
                            "median_ms": statistics.median(out["ms"]),
                            "min_ms": min(out["ms"]),
                            "runs": len(out["ms"]),
                            "load": load,
                        }
                        log(f"  {what:<28} {row['path']:<18} median {row['median_ms']:9.1f} ms  (min {row['min_ms']:.1f}, {row['runs']} runs, load {load})")
                        rows.append(row)
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    return {"chromium": version, "weights_mb": round(manifest["bytes"] / 1e6, 1), "rows": rows}
