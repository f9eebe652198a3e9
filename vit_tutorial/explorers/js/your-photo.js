// Chapter 9: your own photo through ViT-B/16, in this page. Nothing is uploaded: the photo is read and
// preprocessed here (js/vit.js: preprocess, PIL's bilinear resize), and the model runs here, in a Web Worker
// (js/vit.js: vitTrace), on weights the book's build exported (int8 per output channel, about 88 MB),
// fetched only when the reader asks, and kept by the browser's cache. Until then the explorer shows a
// sample photo with the numbers the build computed. After a run the root carries data-top5 (JSON).

import { VT_OWN_KEYS, vtCanvas, vtDrawn, vtEl, vtFmt, vtHeat, vtImage, vtOnTheme, vtRoot, vtSelect, vtTheme, vtUnpack } from "./_common.js";
import { clsRollout, embed, encoderLayer, head, layerParts, loadModel, patchEmbed, preprocess, simdInUse, topK, vitTrace } from "./vit.js";

// The worker's program: vit.js with its matmul.js (data.vit_js, one classic script: explorers/bundle.py's library)
// followed by these three functions.
function vtPhotoSummary(logits, attentions, H) { // -> logits, [CLS]'s attention (layers, heads, N), rollout (N+1)
  const L = attentions.length, n = Math.round(Math.sqrt(attentions[0].length / H)), cls = new Float32Array(L * H * (n - 1));
  attentions.forEach((a, l) => { for (let h = 0; h < H; h++) cls.set(a.subarray(h * n * n + 1, h * n * n + n), (l * H + h) * (n - 1)); });
  return { logits, cls, rollout: clsRollout(attentions, H) };
}
function vtPhotoRun(model, pixels, onLayer) {
  const t0 = performance.now(), out = vitTrace(pixels, model, { onLayer });
  return { ...vtPhotoSummary(out.logits, out.attentions, model.config.num_attention_heads), ms: performance.now() - t0 };
}
function vtPhotoWorker() {
  let model = null;
  self.onmessage = (e) => {
    const m = e.data;
    try {
      if (m.type === "ping") self.postMessage({ type: "pong" });
      else if (m.type === "load") {
        model = loadModel(m.buffers, m.config);
        self.postMessage({ type: "loaded", simd: simdInUse() });
      } else if (m.type === "run") {
        const r = vtPhotoRun(model, m.pixels, (done, total) => self.postMessage({ type: "layer", done, total }));
        self.postMessage({ type: "result", ...r }, [r.logits.buffer, r.cls.buffer, r.rollout.buffer]);
      }
    } catch (err) {
      self.postMessage({ type: "error", message: String((err && err.message) || err) });
    }
  };
}

// The same on the page itself, where no worker can start: vitTrace's steps a layer at a time, letting the
// page redraw between layers. It answers like the worker.
function vtPhotoOnPage() {
  let model = null, listener = () => {};
  const later = () => new Promise((r) => setTimeout(r, 0));
  return {
    set onmessage(f) { listener = f; },
    async postMessage(m) {
      await later();
      try {
        if (m.type === "load") { model = loadModel(m.buffers, m.config); listener({ data: { type: "loaded", simd: simdInUse() } }); return; }
        const t0 = performance.now(), { num_hidden_layers: L, layer_norm_eps: eps, hidden_size: D } = model.config;
        let x = embed(patchEmbed(m.pixels, model), model);
        const attentions = [];
        for (let i = 0; i < L; i++) {
          await later();
          const layer = encoderLayer(x, x.length / D, layerParts(model, i), eps);
          x = layer.x; attentions.push(layer.weights);
          listener({ data: { type: "layer", done: i + 1, total: L } });
        }
        const r = vtPhotoSummary(head(x, model), attentions, model.config.num_attention_heads);
        listener({ data: { type: "result", ...r, ms: performance.now() - t0 } });
      } catch (err) { listener({ data: { type: "error", message: String((err && err.message) || err) } }); }
    },
  };
}

// Fetch one file with progress, from the browser's cache when it is there (the address holds the
// weights' id, so a cached copy is never stale); onBytes(received) as it arrives.
async function vtFetchCached(url, onBytes) {
  let cache = null;
  try { cache = await caches.open("vit-tutorial-weights"); } catch (err) { cache = null; } // no Cache API (file://, http)
  let response = cache && (await cache.match(url));
  const fromCache = Boolean(response);
  if (!response) response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const chunks = [];
  let received = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value); received += value.length; onBytes(received);
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  if (cache && !fromCache) try { await cache.put(url, new Response(bytes)); } catch (err) { /* full or refused: fine */ }
  return bytes.buffer;
}

async function vtCheckSha(buffer, want, name) {
  if (!(globalThis.crypto && crypto.subtle)) return; // only in secure contexts (https, localhost)
  const got = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)), (b) => b.toString(16).padStart(2, "0")).join("");
  if (got !== want) throw new Error(`${name} is damaged (its SHA-256 differs from the manifest's); reload the page`);
}

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "your-photo", "Your own photo: ViT-B/16 runs in this page");
  const [rows, cols] = data.grid, N = rows * cols, L = data.layers, H = data.heads, S = data.image_size;
  const mb = data.weights ? Math.round(data.weights.bytes / 1e6) : 0;
  const sample = data.sample;
  const state = { title: sample.title, photo: null, pixels: null, top: sample.top, cls: vtUnpack(sample.cls).values,
    rollout: vtUnpack(sample.rollout).values, computed: "computed when the book was built (PyTorch, float32)",
    layer: "rollout", head: "mean", worker: null, busy: false };

  // ---- the page: what to do, the photo with [CLS]'s attention, the top five
  const fileInput = vtEl("input", { type: "file", accept: "image/*", class: "vt-file", ...VT_OWN_KEYS });
  const runButton = vtEl("button", { type: "button", class: "vt-button vt-run", text: `run the model in my browser (${mb} MB)`, ...VT_OWN_KEYS });
  const progress = vtEl("progress", { class: "vt-progress", max: "1", value: "0", "aria-label": "progress" });
  const status = vtEl("p", { class: "vt-status", "aria-live": "polite" });
  const weightFiles = vtEl("input", { type: "file", multiple: "", accept: ".json,.safetensors", class: "vt-file", ...VT_OWN_KEYS });
  const weightPicker = vtEl("p", { class: "vt-note", hidden: "" }, vtEl("label", { text: "choose the weight files (vit.json and the .safetensors files of _static/vit-weights/ in the built book): " }), weightFiles);
  ui.controls.before(vtEl("div", { class: "vt-actions" }, vtEl("label", { text: "your photo: " }, fileInput), runButton, progress), status, weightPicker);
  const canvas = vtCanvas(S, S, "the photo as the model sees it (224 x 224), with [CLS]'s attention over it; drop a photo here");
  const table = vtEl("table", { class: "vt-bars" });
  ui.figure.append(vtEl("div", { style: `flex: 0 1 ${S}px` }, canvas), vtEl("div", { style: "flex: 1 1 260px; min-width: 0" }, table));
  const ctx = canvas.getContext("2d");
  let picture = null; // what is drawn under the map: an ImageBitmap or <img>

  function draw() {
    ctx.clearRect(0, 0, S, S);
    if (picture) ctx.drawImage(picture, 0, 0, S, S);
    let heat, what;
    if (state.layer === "rollout") { heat = state.rollout.subarray(state.rollout.length - N); what = `rollout over ${L} layers`; }
    else {
      const l = Number(state.layer);
      heat = new Float32Array(N);
      for (const h of state.head === "mean" ? [...Array(H).keys()] : [Number(state.head)]) {
        for (let j = 0; j < N; j++) heat[j] += state.cls[(l * H + h) * N + j] / (state.head === "mean" ? H : 1);
      }
      what = `layer ${l}, ` + (state.head === "mean" ? "heads averaged" : `head ${state.head}`);
    }
    const [lo, hi] = vtHeat(ctx, heat, 0, rows, cols, 0, 0, S, S, { alpha: 0.55 });
    ctx.strokeStyle = vtTheme(el).grid; ctx.lineWidth = 1; ctx.strokeRect(0.5, 0.5, S - 1, S - 1); // a frame in the page's colours
    table.replaceChildren(...state.top.map(([label, p], k) => vtEl("tr", {},
      vtEl("td", { text: `${k + 1}. ${label.split(",")[0]}`, title: label, style: "width: 45%; overflow-wrap: anywhere" }),
      vtEl("td", { style: "width: 40%" }, vtEl("div", { class: "vt-bar", style: `width: ${Math.max(0.5, p * 100)}%` })),
      vtEl("td", { text: `${(p * 100).toFixed(p < 0.001 ? 3 : 1)}%`, style: "text-align: right; white-space: nowrap" }))));
    ui.readout.textContent = `${state.title}, ${state.computed}: "${state.top[0][0].split(",")[0]}" (${(state.top[0][1] * 100).toFixed(1)}%). `
      + `[CLS]'s attention (${what}) from ${vtFmt(lo)} to ${vtFmt(hi)} per patch.`;
    vtDrawn(el);
  }

  // ---- a photo: read and preprocessed here, as ViTImageProcessor does
  async function usePhoto(file) {
    if (!file) return;
    try {
      const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" });
      if (bitmap.width * bitmap.height > 60e6) throw new Error(`the photo has ${bitmap.width} x ${bitmap.height} pixels; at most 60 million`);
      const c = document.createElement("canvas");
      c.width = bitmap.width; c.height = bitmap.height;
      const cc = c.getContext("2d", { willReadFrequently: true });
      cc.fillStyle = "#fff"; cc.fillRect(0, 0, c.width, c.height); // transparency over white, as load_image does
      cc.drawImage(bitmap, 0, 0);
      const rgba = cc.getImageData(0, 0, c.width, c.height).data, rgb = new Uint8Array(c.width * c.height * 3);
      for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
      const { resized, pixels } = preprocess(rgb, c.width, c.height, S);
      picture = await createImageBitmap(new ImageData(Uint8ClampedArray.from(vtRgba(resized)), S, S));
      Object.assign(state, { title: file.name || "your photo", pixels, resized, photo: true });
      el.vtInput = resized; // for the tests: the 224 x 224 RGB values the model gets (before rescaling)
      if (state.worker) run();
      else { status.textContent = data.weights ? `Your photo is ready. Click "run the model in my browser (${mb} MB)".` : noWeights(); }
    } catch (err) {
      status.textContent = `Could not read that file as a picture: ${err.message || err}`;
    }
  }
  fileInput.addEventListener("change", () => usePhoto(fileInput.files[0]));
  canvas.addEventListener("dragover", (e) => e.preventDefault());
  canvas.addEventListener("drop", (e) => { e.preventDefault(); usePhoto(e.dataTransfer.files[0]); });

  // ---- the model: weights fetched (or chosen) on request, then a worker per page
  const noWeights = () => "The in-browser model is not available here: its weights are written when the book is built. "
    + "In a notebook, classify your photos with explorers.predictions(model, {\"mine\": \"photo.jpg\"}).";
  const manifestUrl = () => new URL((document.documentElement.dataset.content_root ?? "") + data.weights.path, location.href).href;

  async function fetchWeights() {
    const url = manifestUrl(), manifest = await (await fetch(url)).json(), buffers = [];
    let before = 0;
    for (const f of manifest.files) {
      const buffer = await vtFetchCached(new URL(f.name, url).href, (got) => {
        progress.value = (before + got) / manifest.bytes; status.textContent = `downloading the weights: ${Math.round((before + got) / 1e6)} of ${mb} MB`;
      });
      await vtCheckSha(buffer, f.sha256, f.name);
      buffers.push(buffer); before += f.bytes;
    }
    return { manifest, buffers };
  }
  async function pickedWeights() {
    const files = Array.from(weightFiles.files), byName = Object.fromEntries(files.map((f) => [f.name, f]));
    if (!byName["vit.json"]) throw new Error("choose vit.json too (with the .safetensors files)");
    const manifest = JSON.parse(await byName["vit.json"].text()), buffers = [];
    for (const f of manifest.files) {
      if (!byName[f.name]) throw new Error(`missing ${f.name}`);
      const buffer = await byName[f.name].arrayBuffer();
      await vtCheckSha(buffer, f.sha256, f.name);
      buffers.push(buffer);
    }
    return { manifest, buffers };
  }

  // A worker made from the program's text (a Blob address: it works from file:// too), if it answers a
  // ping within a few seconds; otherwise the page runs the model itself.
  async function newWorker() {
    try {
      const source = [data.vit_js, vtPhotoSummary, vtPhotoRun, vtPhotoWorker, "vtPhotoWorker();"].join("\n");
      const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
      const answered = await new Promise((resolve) => {
        worker.onmessage = (e) => resolve(e.data.type === "pong");
        worker.onerror = (e) => { e.preventDefault?.(); resolve(false); };
        setTimeout(() => resolve(false), 10000);
        worker.postMessage({ type: "ping" });
      });
      if (answered) return worker;
      worker.terminate();
    } catch (err) { /* no workers here */ }
    return vtPhotoOnPage();
  }

  async function startWorker({ manifest, buffers }) {
    const worker = await newWorker();
    state.labels = Object.keys(manifest.config.id2label).map((k) => manifest.config.id2label[k]);
    return new Promise((resolve, reject) => {
      worker.onmessage = (e) => {
        const m = e.data;
        if (m.type === "loaded") { state.simd = m.simd; resolve(worker); }
        else if (m.type === "error") { (state.busy ? failed : reject)(new Error(m.message)); }
        else if (m.type === "layer") { progress.value = m.done / m.total; status.textContent = `layer ${m.done} of ${m.total}`; }
        else if (m.type === "result") finished(m);
      };
      worker.onerror = (e) => { e.preventDefault?.(); reject(new Error(e.message || "the worker failed to start")); };
      worker.postMessage({ type: "load", buffers, config: manifest.config }, buffers);
    });
  }

  async function load(weights) {
    runButton.disabled = true; el.dataset.state = "loading";
    try {
      state.worker = await startWorker(await weights());
      runButton.textContent = "run again"; runButton.disabled = false;
      run();
    } catch (err) {
      runButton.disabled = false; el.dataset.state = "error";
      status.textContent = `Could not load the weights: ${err.message || err}. You can choose the files instead (below).`;
      weightPicker.hidden = false;
    }
  }
  runButton.addEventListener("click", () => {
    if (!data.weights) { status.textContent = noWeights(); return; }
    if (state.worker) run();
    else if (location.protocol === "file:") { // a page opened from disk may not read the files next to it
      status.textContent = `Opened from a file on disk, this page can't read the weights next to it: choose them below `
        + `(vit.json and the .safetensors files in ${data.weights.path.replace(/vit\.json$/, "")} of the built book), or serve the `
        + "book (python -m http.server -d _build/html, then open localhost:8000 in the browser).";
      weightPicker.hidden = false;
      weightFiles.focus();
    } else load(fetchWeights);
  });
  weightFiles.addEventListener("change", () => load(pickedWeights));

  async function run() {
    if (state.busy) return;
    if (!state.pixels) { // the sample photo: its 224 x 224 PNG holds exactly the values the build preprocessed
      const img = await vtImage(sample.photo), c = document.createElement("canvas");
      c.width = c.height = S;
      const cc = c.getContext("2d", { willReadFrequently: true });
      cc.drawImage(img, 0, 0);
      const rgba = cc.getImageData(0, 0, S, S).data, rgb = new Uint8Array(S * S * 3);
      for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
      Object.assign(state, preprocess(rgb, S, S, S));
      el.vtInput = state.resized;
    }
    state.busy = true; el.dataset.state = "running"; progress.value = 0;
    state.worker.postMessage({ type: "run", pixels: state.pixels.slice() });
  }
  function finished(m) {
    state.busy = false;
    const top = topK(m.logits, state.labels, 5);
    Object.assign(state, { top, cls: m.cls, rollout: m.rollout,
      computed: `computed in your browser in ${(m.ms / 1000).toFixed(1)} s (${state.simd ? "WebAssembly SIMD" : "plain JavaScript"}, ${data.weights.dtype} weights)` });
    status.textContent = `Done: ${state.title}.`;
    el.dataset.top5 = JSON.stringify(top.map(([label, p]) => [label, Number(p.toFixed(6))]));
    el.dataset.logits = JSON.stringify(Array.from(m.logits));
    el.dataset.ms = m.ms.toFixed(0);
    draw();
    el.dataset.state = "done";
  }
  function failed(err) { state.busy = false; el.dataset.state = "error"; status.textContent = `The model failed: ${err.message}`; }

  const layer = vtSelect("attention", [["rollout", "rollout (all layers)"], ...Array.from({ length: L }, (_, l) => [l, `layer ${l}`])], "rollout",
    (v) => { state.layer = v; draw(); });
  const headSelect = vtSelect("head", [["mean", "mean of heads"], ...Array.from({ length: H }, (_, h) => [h, `head ${h}`])], "mean",
    (v) => { state.head = v; if (state.layer === "rollout") { state.layer = "0"; layer.set("0"); } draw(); });
  ui.controls.append(layer.node, headSelect.node);
  status.textContent = data.weights ? `Choose or drop a photo, then click "run the model in my browser (${mb} MB)": `
    + "the weights are downloaded once, and nothing leaves your computer." : noWeights();
  draw();
  vtImage(sample.photo).then((img) => { if (!state.photo) { picture = img; draw(); } });
  el.append(vtEl("p", { class: "vt-stamp", text: `${data.stamp || ""}${data.notice ? " — " + data.notice : ""}` }));
  const unwatch = vtOnTheme(el, draw);
  return () => { unwatch(); state.worker?.terminate?.(); }; // anywidget calls this when the view goes
}

function vtRgba(rgb) { // (n, 3) -> (n, 4), opaque
  const out = new Uint8Array((rgb.length / 3) * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) { out[j] = rgb[i]; out[j + 1] = rgb[i + 1]; out[j + 2] = rgb[i + 2]; out[j + 3] = 255; }
  return out;
}

export default { render };
