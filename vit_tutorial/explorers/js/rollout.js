// A1: attention rollout from a chosen starting layer, per photo and head fusion; and how far
// each head looks (mean attention distance) by layer.

import { vtCanvas, vtDrawn, vtEl, vtFmt, vtHeat, vtImage, vtRoot, vtSelect, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "rollout", "Attention rollout and attention distance");
  const maps = vtUnpack(data.maps); // (B, start, fusion, N)
  const [B, S, F, N] = maps.shape, [rows, cols] = data.grid;
  const state = { photo: 0, fusion: 0, start: 0 };
  const photos = [];
  // the layout (canvas pixels): the photo at 1.5 times the model's 224 px; beside it the plot of
  // distances in a box (X0, Y0, W, H) with room for its axis labels
  const SIDE = 336, X0 = 50, Y0 = 16, W = 330, H = 270, PLOT_W = X0 + W + 20;
  const left = vtCanvas(SIDE, SIDE, "the photo with the rollout of [CLS]'s attention over it");
  const right = vtCanvas(PLOT_W, SIDE, "mean attention distance of every head, by layer");
  ui.figure.append(vtEl("div", { style: `flex: 1 1 240px; max-width: ${SIDE}px` }, left),
    vtEl("div", { style: `flex: 1 1 260px; max-width: ${PLOT_W}px` }, right));
  const lctx = left.getContext("2d"), rctx = right.getContext("2d");

  function draw() {
    const { photo, fusion, start } = state, th = vtTheme(el);
    lctx.clearRect(0, 0, SIDE, SIDE);
    if (photos[photo]) lctx.drawImage(photos[photo], 0, 0, SIDE, SIDE);
    const [lo, hi] = vtHeat(lctx, maps.values, ((photo * S + start) * F + fusion) * N, rows, cols, 0, 0, SIDE, SIDE, { alpha: 0.6 });
    // distance plot
    const dist = data.distance[photo], L = dist.length, heads = dist[0].length, x0 = X0, y0 = Y0, w = W, h = H;
    const top = data.max_distance;
    rctx.clearRect(0, 0, PLOT_W, SIDE);
    rctx.strokeStyle = th.grid; rctx.lineWidth = 1; rctx.strokeRect(x0, y0, w, h);
    rctx.fillStyle = "rgba(9,105,218,0.12)";
    rctx.fillRect(x0 + (start - 0.5) / (L - 1 + 1) * w + w / (2 * L), y0, w * (L - start) / L, h);
    for (let l = 0; l < L; l++) for (let k = 0; k < heads; k++) {
      const px = x0 + (l + 0.5) / L * w, py = y0 + h - dist[l][k] / top * h;
      rctx.fillStyle = l >= start ? "#4C72B0" : th.muted; rctx.beginPath(); rctx.arc(px, py, 3, 0, 7); rctx.fill();
    }
    rctx.fillStyle = th.fg; rctx.font = "12px sans-serif"; rctx.textAlign = "center"; rctx.textBaseline = "top";
    for (let l = 0; l < L; l += 1) rctx.fillText(String(l), x0 + (l + 0.5) / L * w, y0 + h + 3);
    rctx.fillText("layer (each dot: one head; shaded: the rollout's layers)", x0 + w / 2, y0 + h + 20);
    rctx.textAlign = "right"; rctx.textBaseline = "middle";
    rctx.fillText(`${Math.round(top)} px`, x0 - 4, y0 + 6); rctx.fillText("0", x0 - 4, y0 + h - 4);
    rctx.save(); rctx.translate(12, y0 + h / 2); rctx.rotate(-Math.PI / 2); rctx.textAlign = "center";
    rctx.fillText("mean attention distance", 0, 0); rctx.restore();
    ui.readout.textContent = `${data.names[photo]}: rollout of layers ${start}–${L - 1}, heads fused by ${data.fusions[fusion]}; `
      + `[CLS]'s share of each patch from ${vtFmt(lo)} to ${vtFmt(hi)} (uniform: ${vtFmt(1 / (N + 1))}).`;
    vtDrawn(el);
  }
  const photo = vtSelect("photo", data.names.map((nm, i) => [i, nm]), 0, (v) => { state.photo = Number(v); draw(); });
  const fusion = vtSelect("heads fused by", data.fusions.map((f, i) => [i, f]), 0, (v) => { state.fusion = Number(v); draw(); });
  const start = vtSlider("from layer", 0, S - 1, 0, (v) => { state.start = v; draw(); });
  ui.controls.append(photo.node, fusion.node, start.node);
  draw();
  data.photos.forEach((uri, i) => vtImage(uri).then((img) => { photos[i] = img; if (i === state.photo) draw(); }));
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
