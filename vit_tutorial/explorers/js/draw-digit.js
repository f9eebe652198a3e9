// A2: draw a digit and the tiny ViT reads it, in this page, on every stroke (js/vit.js, the shipped weights).
// The drawing is reduced the way scikit-learn's digits were made: fitted into a 32 x 32 bitmap, then the
// "on" pixels of each 4 x 4 block counted, an 8 x 8 grid of 0..16; tiny.digits_to_pixels turns it into the
// model's input. After each run the root carries data-input (the 64 values) and data-logits (the 10 logits).

import { VT_OWN_KEYS, vtB64, vtCanvas, vtCanvasXY, vtDrawn, vtEl, vtHeat, vtOnTheme, vtRoot, vtSelect, vtSlider, vtStamp, vtTheme } from "./_common.js";
import { clsRollout, head, loadModel, simdInUse, softmax, vitTrace } from "./vit.js";

const DIGIT = 8, BITMAP = 32, PAD = 240;
// a 2, drawn once, so the pad shows something to start from (x, y in 0..1)
const FIRST_DRAWING = [[[0.22, 0.26], [0.32, 0.1], [0.5, 0.05], [0.68, 0.1], [0.77, 0.26], [0.7, 0.44], [0.5, 0.62],
  [0.3, 0.8], [0.2, 0.93], [0.5, 0.93], [0.82, 0.93]]].map((s) => s.map(([x, y]) => [x * PAD, y * PAD]));

// The strokes (pad coordinates) -> the 8 x 8 grid, values 0..16. The drawing's box is scaled to fill the
// bitmap's height (or width, if wider), centred; `pen` is the stroke width in bitmap pixels.
function strokesToGrid(strokes, pen) {
  const grid = new Array(DIGIT * DIGIT).fill(0), points = strokes.flat();
  if (!points.length) return grid;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const inner = BITMAP - pen, scale = inner / Math.max(x1 - x0, y1 - y0, 1e-6);
  const ox = (BITMAP - (x1 - x0) * scale) / 2, oy = (BITMAP - (y1 - y0) * scale) / 2;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = BITMAP;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  Object.assign(ctx, { lineWidth: pen, lineCap: "round", lineJoin: "round", strokeStyle: "#000", fillStyle: "#000" });
  for (const stroke of strokes) {
    ctx.beginPath();
    stroke.forEach(([x, y], i) => ctx[i ? "lineTo" : "moveTo"](ox + (x - x0) * scale, oy + (y - y0) * scale));
    if (stroke.length === 1) ctx.lineTo(ox + (stroke[0][0] - x0) * scale + 0.01, oy + (stroke[0][1] - y0) * scale);
    ctx.stroke();
  }
  const alpha = ctx.getImageData(0, 0, BITMAP, BITMAP).data; // RGBA
  for (let y = 0; y < BITMAP; y++) for (let x = 0; x < BITMAP; x++) {
    if (alpha[(y * BITMAP + x) * 4 + 3] >= 128) grid[(y >> 2) * DIGIT + (x >> 2)] += 1; // one more "on" pixel
  }
  return grid;
}

// tiny.digits_to_pixels for one grid: (8, 8) in 0..16 -> (3, size, size) in [-1, 1]. Scale to [0, 1],
// upscale bilinearly with half-pixel centres (torch's interpolate, align_corners=False), (x - 0.5) / 0.5,
// the grey copied into R, G and B.
function digitsToPixels(grid, size) {
  const out = new Float32Array(3 * size * size), scale = DIGIT / size;
  const at = (d) => { // source row or column of output d: its two neighbours and the weight of the second
    const s = Math.max(0, (d + 0.5) * scale - 0.5), i = Math.floor(s);
    return [i, Math.min(i + 1, DIGIT - 1), s - i];
  };
  for (let y = 0; y < size; y++) {
    const [r0, r1, fy] = at(y);
    for (let x = 0; x < size; x++) {
      const [c0, c1, fx] = at(x), g = (r, c) => grid[r * DIGIT + c] / 16;
      const v = (1 - fy) * ((1 - fx) * g(r0, c0) + fx * g(r0, c1)) + fy * ((1 - fx) * g(r1, c0) + fx * g(r1, c1));
      for (let c = 0; c < 3; c++) out[(c * size + y) * size + x] = (v - 0.5) / 0.5;
    }
  }
  return out;
}

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "draw-digit", "Draw a digit: the tiny ViT reads it in this page");
  const bytes = vtB64(data.weights);
  const vitModel = loadModel([bytes.buffer]);
  const { image_size: size, patch_size: P, num_hidden_layers: L, num_attention_heads: H } = vitModel.config;
  const G = size / P, N = G * G;
  const state = { strokes: FIRST_DRAWING, sample: null, pen: 3.5, overlay: "rollout", run: null };

  const pad = vtCanvas(PAD, PAD, "drawing pad: draw a digit with the mouse, a finger or a pen");
  pad.classList.add("vt-pad");
  const seen = vtCanvas(160, 160, "the 32 x 32 picture the model reads, cut into its patches");
  const maps = vtCanvas(56 * (H + 1) + 70, 56 * L + 22, "[CLS]'s attention over the patches in every layer and head");
  const table = vtEl("table", { class: "vt-bars" });
  const actions = vtEl("div", { class: "vt-actions", role: "group", "aria-label": "drawing pad" });
  const button = (text, label, onclick) => vtEl("button", { type: "button", class: "vt-button", text, "aria-label": label, onclick, ...VT_OWN_KEYS });
  actions.append(button("clear", "clear the pad", () => { state.strokes = []; state.sample = null; update(); }),
    vtEl("span", { class: "vt-note", text: "or load a sample:" }),
    ...data.samples.map((s, i) => button(String(s.label), `load sample digit ${i + 1} (a ${s.label})`, () => { state.sample = i; update(); })));
  ui.controls.before(actions);
  const box = (width, node) => vtEl("div", { style: `flex: 0 1 ${width}px; min-width: 0` }, node);
  ui.figure.append(box(PAD, pad), box(160, seen), vtEl("div", { style: "flex: 1 1 180px; min-width: 0" }, table), box(maps.width, maps));

  // ---- the pen: pointer events cover the mouse, touch and pens
  let drawing = null, queued = false;
  const schedule = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; update(); }); } };
  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    if (state.sample !== null) { state.sample = null; state.strokes = []; }
    if (state.strokes === FIRST_DRAWING) state.strokes = []; // the first stroke clears the example
    drawing = [vtCanvasXY(pad, e)];
    state.strokes.push(drawing);
    schedule();
  });
  pad.addEventListener("pointermove", (e) => { if (drawing) { drawing.push(vtCanvasXY(pad, e)); schedule(); } });
  const end = () => { if (drawing) { drawing = null; schedule(); } };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);

  // ---- the model, on the current grid
  function update() {
    const grid = state.sample !== null ? data.samples[state.sample].grid : strokesToGrid(state.strokes, state.pen);
    const t0 = performance.now();
    const out = vitTrace(digitsToPixels(grid, size), vitModel); // logits (10), attentions: L x (H, N+1, N+1)
    const ms = performance.now() - t0;
    state.run = { grid, out, probs: softmax(out.logits), rollout: clsRollout(out.attentions, H) };
    el.dataset.input = JSON.stringify(grid);
    el.dataset.logits = JSON.stringify(Array.from(out.logits));
    el.dataset.ms = ms.toFixed(2);
    draw(ms);
  }

  const cls = (l, h) => { // [CLS]'s attention over the N patches: layer l, head h (or the mean of the heads)
    const a = state.run.out.attentions[l], n = N + 1, row = new Float32Array(N);
    for (const k of h === "mean" ? [...Array(H).keys()] : [h]) for (let j = 0; j < N; j++) row[j] += a[k * n * n + 1 + j] / (h === "mean" ? H : 1);
    return row;
  };

  function draw(ms) {
    const { grid, probs, rollout } = state.run;
    // the pad: the strokes, or the sample's grid
    const pc = pad.getContext("2d");
    pc.fillStyle = "#fff"; pc.fillRect(0, 0, PAD, PAD);
    if (state.sample !== null) drawGrid(pc, grid, 0, 0, PAD);
    Object.assign(pc, { lineWidth: 14, lineCap: "round", lineJoin: "round", strokeStyle: "#111" });
    if (state.sample === null) for (const s of state.strokes) {
      pc.beginPath(); s.forEach(([x, y], i) => pc[i ? "lineTo" : "moveTo"](x, y)); if (s.length === 1) pc.lineTo(s[0][0] + 0.1, s[0][1]); pc.stroke();
    }
    // what the model reads: the grid as its 32 x 32 picture, its patches, and an attention map over them
    const sc = seen.getContext("2d");
    sc.clearRect(0, 0, 160, 160);
    drawGrid(sc, grid, 0, 0, 160);
    const heat = state.overlay === "rollout" ? rollout.subarray(1) : state.overlay === "none" ? null : cls(Number(state.overlay), "mean");
    if (heat) vtHeat(sc, heat, 0, G, G, 0, 0, 160, 160, { alpha: 0.5 });
    sc.strokeStyle = "#e07b00"; sc.lineWidth = 1;
    for (let k = 1; k < G; k++) { const v = (k * 160) / G; sc.beginPath(); sc.moveTo(v, 0); sc.lineTo(v, 160); sc.moveTo(0, v); sc.lineTo(160, v); sc.stroke(); }
    // the attention of [CLS] in every layer and head, and the mean of the heads
    const mc = maps.getContext("2d"), cell = 52, gap = 4, left = 62;
    mc.clearRect(0, 0, maps.width, maps.height);
    const fg = vtTheme(el).fg; // the page's light or dark text (vtHeat leaves its last colour as fillStyle)
    mc.fillStyle = fg; mc.font = "12px sans-serif"; mc.textBaseline = "middle";
    for (let h = 0; h <= H; h++) { mc.textAlign = "center"; mc.fillText(h < H ? `head ${h}` : "mean", left + h * (cell + gap) + cell / 2, 9); }
    for (let l = 0; l < L; l++) {
      mc.fillStyle = fg; mc.textAlign = "left"; mc.fillText(`layer ${l}`, 0, 22 + l * (cell + gap) + cell / 2);
      for (let h = 0; h <= H; h++) vtHeat(mc, cls(l, h < H ? h : "mean"), 0, G, G, left + h * (cell + gap), 20 + l * (cell + gap), cell, cell);
    }
    // the three most probable digits
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, 3);
    table.replaceChildren(...order.map((d) => vtEl("tr", {}, vtEl("td", { text: `digit ${vitModel.config.labels[d]}`, style: "white-space: nowrap" }),
      vtEl("td", { style: "width: 60%" }, vtEl("div", { class: "vt-bar", style: `width: ${Math.max(0.5, probs[d] * 100)}%` })),
      vtEl("td", { text: `${(probs[d] * 100).toFixed(1)}%`, style: "text-align: right" }))));
    const what = state.sample !== null ? `sample digit (a ${data.samples[state.sample].label})` : "your drawing";
    ui.readout.textContent = `The model reads ${what} as ${order.map((d) => `${d} (${(probs[d] * 100).toFixed(1)}%)`).join(", ")}. `
      + `One forward pass took ${ms.toFixed(1)} ms in this page (${simdInUse() ? "WebAssembly SIMD" : "plain JavaScript"}).`;
    vtDrawn(el);
  }

  // the 8 x 8 grid as the model's 32 x 32 picture (dark = ink), into a square of side `side`
  function drawGrid(ctx, grid, x, y, side) {
    const px = digitsToPixels(grid, size), cell = side / size;
    for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) {
      const g = Math.round(255 - 255 * (px[r * size + c] + 1) / 2);
      ctx.fillStyle = `rgb(${g},${g},${g})`; ctx.fillRect(x + c * cell, y + r * cell, Math.ceil(cell), Math.ceil(cell));
    }
  }

  const pen = vtSlider("pen width", 2, 5, state.pen, (v) => { state.pen = v; update(); }, { step: 0.5, format: (v) => `${v} px` });
  const overlay = vtSelect("over the picture", [["rollout", "rollout (all layers)"], ...Array.from({ length: L }, (_, l) => [l, `layer ${l}, mean of heads`]), ["none", "nothing"]],
    "rollout", (v) => { state.overlay = v; draw(Number(el.dataset.ms)); });
  ui.controls.append(pen.node, overlay.node);
  update();
  vtStamp(el, data);
  return vtOnTheme(el, () => draw(Number(el.dataset.ms))); // the pad stays paper-white: the model reads dark ink on white
}

export default { render };
