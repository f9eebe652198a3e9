// ch8: per depth, the cosine similarity of each patch's vector with the [CLS] vector, over each photo.

import { VT_COOLWARM, vtCanvas, vtDrawn, vtEl, vtFmt, vtHeat, vtImage, vtRoot, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "agreement", "Where does [CLS] agree with the patches?");
  const sim = vtUnpack(data.similarity); // (depths, B, N)
  const [S, B, N] = sim.shape, [rows, cols] = data.grid;
  const state = { depth: S - 1 };
  const photos = [];
  const SIDE = 224, TITLE = 20; // each photo's map, with its name above it
  const canvases = data.names.map((nm) => vtCanvas(SIDE, TITLE + SIDE, `${nm}: similarity of each patch with [CLS]`));
  ui.figure.append(...canvases.map((c) => vtEl("div", { style: `flex: 1 1 140px; max-width: ${SIDE}px` }, c)));
  function draw() {
    const d = state.depth, th = vtTheme(el);
    canvases.forEach((c, b) => {
      const ctx = c.getContext("2d");
      ctx.clearRect(0, 0, c.width, c.height);
      if (photos[b]) ctx.drawImage(photos[b], 0, TITLE, SIDE, SIDE);
      vtHeat(ctx, sim.values, (d * B + b) * N, rows, cols, 0, TITLE, SIDE, SIDE, { lo: -1, hi: 1, alpha: 0.65, stops: VT_COOLWARM });
      ctx.fillStyle = th.fg; ctx.font = "13px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "top";
      ctx.fillText(data.names[b], 0, 2);
    });
    let mean = 0;
    for (let k = 0; k < B * N; k++) mean += sim.values[d * B * N + k];
    ui.readout.textContent = `${d === 0 ? "the embeddings (before any layer)" : d === S - 1 ? "after the final LayerNorm" : "after layer " + d}: `
      + `mean similarity ${vtFmt(mean / (B * N))} (red: similar to [CLS], blue: opposite).`;
    vtDrawn(el);
  }
  const depth = vtSlider("depth", 0, S - 1, state.depth, (v) => { state.depth = v; draw(); });
  ui.controls.append(depth.node);
  draw();
  data.photos.forEach((uri, i) => vtImage(uri).then((img) => { photos[i] = img; draw(); }));
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
