// ch4: where one query looks. Layer, head, query patch or [CLS]; click the photo to pick the query,
// click a head in the small maps to pick the head.

import { vtCanvas, vtCanvasXY, vtDrawn, vtEl, vtFmt, vtHeat, vtImage, vtRoot, vtSelect, vtSlider, vtStamp,
  vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "attention", "Attention: where does a query look?");
  const [rows, cols] = data.grid, L = data.layers, H = data.heads, Q = data.queries.length, K = rows * cols;
  const maps = vtUnpack(data.maps).values; // (L, H, Q, K)
  const clsw = vtUnpack(data.cls).values; // (L, H, Q): the weight on the [CLS] key
  const state = { layer: 0, head: 0, q: Math.max(0, data.queries.indexOf(data.query)) };
  const patchQueries = data.queries.map((t, i) => [t, i]).filter(([t]) => t > 0);

  // the layout (canvas pixels): the photo at twice the model's 224 px, and a small map per head,
  // PER_ROW heads a row, each map with its label above it
  const SIDE = 448, PER_ROW = 4, MAP = 78, PAD = 3, LABEL = 16;
  const CELL_W = MAP + 2 * PAD, CELL_H = LABEL + MAP + 2 * PAD;
  const big = vtCanvas(SIDE, SIDE, "the photo with the chosen query's attention over it; click to choose the query patch");
  big.classList.add("vt-clickable");
  const small = vtCanvas(PER_ROW * CELL_W, Math.ceil(H / PER_ROW) * CELL_H, "the same query in every head of the layer; click a head to choose it");
  small.classList.add("vt-clickable");
  const left = vtEl("div", { style: `flex: 1 1 300px; max-width: ${SIDE}px` }, big);
  const right = vtEl("div", { style: `flex: 1 1 220px; max-width: ${PER_ROW * CELL_W}px` }, small);
  ui.figure.append(left, right);
  const bctx = big.getContext("2d"), sctx = small.getContext("2d");
  let photo = null;

  const offset = (l, h, q) => ((l * H + h) * Q + q) * K;
  const tokenName = (t) => (t === 0 ? "[CLS]" : `patch ${t - 1} (row ${Math.floor((t - 1) / cols)}, col ${(t - 1) % cols})`);

  function draw() {
    const { layer, head, q } = state, token = data.queries[q], th = vtTheme(el);
    bctx.clearRect(0, 0, SIDE, SIDE);
    if (photo) bctx.drawImage(photo, 0, 0, SIDE, SIDE);
    const [lo, hi] = vtHeat(bctx, maps, offset(layer, head, q), rows, cols, 0, 0, SIDE, SIDE, { alpha: 0.62 });
    if (token > 0) {
      const r = Math.floor((token - 1) / cols), c = (token - 1) % cols;
      bctx.strokeStyle = "#00e5ff"; bctx.lineWidth = 3;
      bctx.strokeRect(c * SIDE / cols + 1.5, r * SIDE / rows + 1.5, SIDE / cols - 3, SIDE / rows - 3);
    }
    sctx.clearRect(0, 0, small.width, small.height);
    sctx.font = "12px sans-serif"; sctx.textAlign = "left"; sctx.textBaseline = "top";
    for (let h = 0; h < H; h++) {
      const x = (h % PER_ROW) * CELL_W, y = Math.floor(h / PER_ROW) * CELL_H;
      vtHeat(sctx, maps, offset(layer, h, q), rows, cols, x + PAD, y + LABEL + PAD, MAP, MAP);
      sctx.fillStyle = h === head ? th.accent : th.fg;
      sctx.fillText(`head ${h}`, x + PAD, y + 2);
      if (h === head) { sctx.strokeStyle = th.accent; sctx.lineWidth = 3; sctx.strokeRect(x + 1.5, y + LABEL + 1.5, MAP + 3, MAP + 3); }
    }
    const cw = clsw[(layer * H + head) * Q + q];
    ui.readout.textContent = `layer ${layer}, head ${head}, query ${tokenName(token)}: weights on the patches `
      + `from ${vtFmt(lo)} to ${vtFmt(hi)} (uniform would be ${vtFmt(1 / (K + 1))}); the [CLS] key gets ${vtFmt(cw)}.`;
    vtDrawn(el);
  }

  const layer = vtSlider("layer", 0, L - 1, 0, (v) => { state.layer = v; draw(); });
  const head = vtSlider("head", 0, H - 1, 0, (v) => { state.head = v; draw(); });
  const query = vtSelect("query", data.queries.map((t, i) => [i, tokenName(t)]), state.q, (v) => { state.q = Number(v); draw(); });
  ui.controls.append(layer.node, head.node, query.node);
  if (data.query_note) ui.controls.append(vtEl("span", { class: "vt-note", text: data.query_note }));

  big.addEventListener("click", (event) => { // nearest patch that has a query
    const [x, y] = vtCanvasXY(big, event);
    const r = Math.min(rows - 1, Math.floor(y / (SIDE / rows))), c = Math.min(cols - 1, Math.floor(x / (SIDE / cols)));
    let best = null, bestD = Infinity;
    for (const [t, i] of patchQueries) {
      const rr = Math.floor((t - 1) / cols), cc = (t - 1) % cols, d = (rr - r) ** 2 + (cc - c) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best !== null) { state.q = best; query.set(best); draw(); }
  });
  small.addEventListener("click", (event) => {
    const [x, y] = vtCanvasXY(small, event);
    const h = Math.floor(y / CELL_H) * PER_ROW + Math.floor(x / CELL_W);
    if (h >= 0 && h < H) { state.head = h; head.set(h); draw(); }
  });
  draw();
  vtImage(data.photo).then((img) => { photo = img; draw(); });
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
