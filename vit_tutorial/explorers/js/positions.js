// ch3 / A1: cosine similarity of one position embedding with all the others; a preview of the
// same map after bicubic resizing of the embeddings to another grid (interpolate_pos_encoding).

import { VT_COOLWARM, vtCanvas, vtCanvasXY, vtColorbar, vtDrawn, vtEl, vtFmt, vtHeat, vtRoot, vtSelect,
  vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function vtCubic(t, A = -0.75) { // the cubic convolution kernel torch uses for bicubic
  t = Math.abs(t);
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  return 0;
}
// 1-D resize weights, torch's align_corners=False with clamped borders: out x [[index, weight] x 4]
function vtResizeWeights(inSize, outSize) {
  const scale = inSize / outSize, out = [];
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5, i0 = Math.floor(src), t = src - i0, taps = [];
    for (let k = -1; k <= 2; k++) taps.push([Math.min(inSize - 1, Math.max(0, i0 + k)), vtCubic(k - t)]);
    out.push(taps);
  }
  return out;
}
// (rows*cols, D) -> (R*C, D), bicubic per channel
function vtResizeGrid(emb, rows, cols, D, R, C) {
  const wr = vtResizeWeights(rows, R), wc = vtResizeWeights(cols, C);
  const tmp = new Float32Array(rows * C * D); // resize along columns first
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) {
    const o = (r * C + c) * D;
    for (const [ic, w] of wc[c]) { const s = (r * cols + ic) * D; for (let d = 0; d < D; d++) tmp[o + d] += w * emb[s + d]; }
  }
  const out = new Float32Array(R * C * D);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
    const o = (r * C + c) * D;
    for (const [ir, w] of wr[r]) { const s = (ir * C + c) * D; for (let d = 0; d < D; d++) out[o + d] += w * tmp[s + d]; }
  }
  return out;
}
function vtCosineRow(emb, n, D, i) {
  const out = new Float32Array(n);
  let ni = 0;
  for (let d = 0; d < D; d++) ni += emb[i * D + d] ** 2;
  ni = Math.sqrt(ni) || 1;
  for (let j = 0; j < n; j++) {
    let dot = 0, nj = 0;
    for (let d = 0; d < D; d++) { const v = emb[j * D + d]; dot += emb[i * D + d] * v; nj += v * v; }
    out[j] = dot / (ni * (Math.sqrt(nj) || 1));
  }
  return out;
}

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "positions", "Position embeddings: which positions are alike?");
  const [rows, cols] = data.grid;
  const packed = vtUnpack(data.embeddings), n = packed.shape[0], D = packed.shape[1], emb = packed.values;
  const state = { index: data.index, size: rows };
  const resized = {};
  // one panel (canvas pixels): a title line, the MAP square with a colour bar, a line below
  const MAP = 260, TOP = 24, BAR = 10, PANEL_W = MAP + 40, PANEL_H = TOP + MAP + 46;
  const map = vtCanvas(PANEL_W, PANEL_H, "cosine similarity of the chosen position with every position; click to choose");
  map.classList.add("vt-clickable");
  const preview = vtCanvas(PANEL_W, PANEL_H, "the same similarity after resizing the position embeddings to another grid");
  ui.figure.append(vtEl("div", { style: `flex: 1 1 220px; max-width: ${PANEL_W}px` }, map),
    vtEl("div", { style: `flex: 1 1 220px; max-width: ${PANEL_W}px` }, preview));
  const mctx = map.getContext("2d"), pctx = preview.getContext("2d");

  function panel(ctx, values, R, C, mark, title) {
    const th = vtTheme(el);
    ctx.clearRect(0, 0, PANEL_W, PANEL_H);
    ctx.fillStyle = th.fg; ctx.font = "13px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText(title, 0, 4);
    vtHeat(ctx, values, 0, R, C, 0, TOP, MAP, MAP, { lo: -1, hi: 1, stops: VT_COOLWARM });
    ctx.strokeStyle = "#111"; ctx.lineWidth = 2; // on the map's own colours, not the page's
    ctx.strokeRect((mark % C) * MAP / C + 1, TOP + Math.floor(mark / C) * MAP / R + 1, MAP / C - 2, MAP / R - 2);
    vtColorbar(ctx, MAP + 6, TOP, BAR, MAP, -1, 1, { stops: VT_COOLWARM });
    ctx.fillStyle = th.fg; ctx.textBaseline = "top"; ctx.fillText(`${R} × ${C} grid`, 0, TOP + MAP + 8);
  }

  function draw() {
    const r = Math.floor(state.index / cols), c = state.index % cols;
    const sims = vtCosineRow(emb, n, D, state.index);
    panel(mctx, sims, rows, cols, state.index, `position ${state.index} (row ${r}, col ${c})`);
    const S = state.size;
    if (!resized[S]) resized[S] = S === rows ? emb : vtResizeGrid(emb, rows, cols, D, S, S);
    const rr = Math.min(S - 1, Math.max(0, Math.round((r + 0.5) * S / rows - 0.5)));
    const cc = Math.min(S - 1, Math.max(0, Math.round((c + 0.5) * S / cols - 0.5)));
    const j = rr * S + cc;
    panel(pctx, vtCosineRow(resized[S], S * S, D, j), S, S, j, `resized to ${S} × ${S}: position (${rr}, ${cc})`);
    let second = -2, at = -1;
    for (let k = 0; k < n; k++) if (k !== state.index && sims[k] > second) { second = sims[k]; at = k; }
    ui.readout.textContent = `most similar other position: ${at} (row ${Math.floor(at / cols)}, col ${at % cols}), `
      + `cosine ${vtFmt(second)}. Right: the embeddings resized bicubically to ${S} × ${S}, as for a `
      + `${S * 16} px image with 16 px patches.`;
    vtDrawn(el);
  }

  const index = vtSlider("position", 0, n - 1, state.index, (v) => { state.index = v; draw(); });
  const size = vtSelect("resize to", data.sizes.map((s) => [s, `${s} × ${s}`]), state.size, (v) => { state.size = Number(v); draw(); });
  ui.controls.append(index.node, size.node);
  map.addEventListener("click", (event) => {
    const [x, y] = vtCanvasXY(map, event);
    if (x < 0 || x >= MAP || y < TOP || y >= TOP + MAP) return;
    state.index = Math.floor((y - TOP) / (MAP / rows)) * cols + Math.floor(x / (MAP / cols));
    index.set(state.index); draw();
  });
  draw();
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
