// A2: where the tiny model's [CLS] looks on a digit: a layer and a head (or their mean), or the rollout.

import { vtCanvas, vtDrawn, vtFmt, vtHeat, vtRoot, vtSelect, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "digits", "Attention over a digit");
  const px = vtUnpack(data.pixels).values, [hgt, wid] = data.size, B = data.labels.length;
  const maps = vtUnpack(data.maps).values, roll = vtUnpack(data.rollout).values; // (B, L, H, N), (B, N)
  const [rows, cols] = data.grid, N = rows * cols, L = data.layers, H = data.heads;
  const state = { i: 0, layer: "rollout", head: "mean" };
  // the layout (canvas pixels): the digit, and the digit again under the attention, side by side
  const SIDE = 240, GAP = 30, TITLE = 24, RIGHT = SIDE + GAP;
  const canvas = vtCanvas(2 * SIDE + GAP + 10, TITLE + SIDE + 6, "the digit, and [CLS]'s attention over it");
  ui.figure.append(canvas);
  const ctx = canvas.getContext("2d");
  const heat = new Float32Array(N);

  function draw() {
    const { i } = state, th = vtTheme(el);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    // the digit, grey (dark = ink)
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < hgt * wid; k++) { const v = px[i * hgt * wid + k]; if (v < lo) lo = v; if (v > hi) hi = v; }
    const cell = SIDE / hgt;
    for (let r = 0; r < hgt; r++) for (let c = 0; c < wid; c++) {
      const g = 255 - 255 * (px[i * hgt * wid + r * wid + c] - lo) / ((hi - lo) || 1);
      ctx.fillStyle = `rgb(${g},${g},${g})`; ctx.fillRect(c * cell, TITLE + r * cell, Math.ceil(cell), Math.ceil(cell));
    }
    let what;
    if (state.layer === "rollout") { for (let k = 0; k < N; k++) heat[k] = roll[i * N + k]; what = `rollout over ${L} layers`; }
    else {
      const l = Number(state.layer);
      for (let k = 0; k < N; k++) {
        if (state.head === "mean") { let s = 0; for (let h = 0; h < H; h++) s += maps[((i * L + l) * H + h) * N + k]; heat[k] = s / H; }
        else heat[k] = maps[((i * L + l) * H + Number(state.head)) * N + k];
      }
      what = `layer ${l}, ` + (state.head === "mean" ? "heads averaged" : `head ${state.head}`);
    }
    for (let r = 0; r < hgt; r++) for (let c = 0; c < wid; c++) {
      const g = 255 - 255 * (px[i * hgt * wid + r * wid + c] - lo) / ((hi - lo) || 1);
      ctx.fillStyle = `rgb(${g},${g},${g})`; ctx.fillRect(RIGHT + c * cell, TITLE + r * cell, Math.ceil(cell), Math.ceil(cell));
    }
    const [a, b] = vtHeat(ctx, heat, 0, rows, cols, RIGHT, TITLE, SIDE, SIDE, { alpha: 0.55 });
    ctx.fillStyle = th.fg; ctx.font = "13px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText(`label ${data.labels[i]}, model says ${data.guess[i]} (${Math.round(data.confidence[i] * 100)}%)`, 0, 2);
    ctx.fillText(what, RIGHT, 2);
    ui.readout.textContent = `Digit ${i}: label ${data.labels[i]}, the model says ${data.guess[i]}. [CLS]'s attention (${what}) `
      + `from ${vtFmt(a)} to ${vtFmt(b)} per patch.`;
    vtDrawn(el);
  }
  const digit = vtSlider("digit", 0, B - 1, 0, (v) => { state.i = v; draw(); });
  const layer = vtSelect("layer", [["rollout", "rollout (all layers)"]].concat(Array.from({ length: L }, (_, l) => [l, `layer ${l}`])),
    "rollout", (v) => { state.layer = v; head.input.disabled = v === "rollout"; draw(); });
  const head = vtSelect("head", [["mean", "mean of heads"]].concat(Array.from({ length: H }, (_, h) => [h, `head ${h}`])), "mean",
    (v) => { state.head = v; if (state.layer === "rollout") { state.layer = "0"; layer.set("0"); } draw(); });
  ui.controls.append(digit.node, layer.node, head.node);
  draw();
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
