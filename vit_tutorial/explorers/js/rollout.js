// A1: attention rollout from a chosen starting layer, per photo and head fusion; and how far
// each head looks (mean attention distance) by layer.

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "rollout", "Attention rollout and attention distance");
  const maps = vtUnpack(data.maps); // (B, start, fusion, N)
  const [B, S, F, N] = maps.shape, [rows, cols] = data.grid;
  const state = { photo: 0, fusion: 0, start: 0 };
  const photos = [];
  const left = vtCanvas(336, 336, "the photo with the rollout of [CLS]'s attention over it");
  const right = vtCanvas(400, 336, "mean attention distance of every head, by layer");
  ui.figure.append(vtEl("div", { style: "flex: 1 1 240px; max-width: 336px" }, left),
    vtEl("div", { style: "flex: 1 1 260px; max-width: 400px" }, right));
  const lctx = left.getContext("2d"), rctx = right.getContext("2d");

  function draw() {
    const { photo, fusion, start } = state;
    lctx.clearRect(0, 0, 336, 336);
    if (photos[photo]) lctx.drawImage(photos[photo], 0, 0, 336, 336);
    const [lo, hi] = vtHeat(lctx, maps.values, ((photo * S + start) * F + fusion) * N, rows, cols, 0, 0, 336, 336, { alpha: 0.6 });
    // distance plot
    const dist = data.distance[photo], L = dist.length, H = dist[0].length, x0 = 50, y0 = 16, w = 330, h = 270;
    const top = data.max_distance;
    rctx.clearRect(0, 0, 400, 336);
    rctx.strokeStyle = "#bbb"; rctx.lineWidth = 1; rctx.strokeRect(x0, y0, w, h);
    rctx.fillStyle = "rgba(9,105,218,0.12)";
    rctx.fillRect(x0 + (start - 0.5) / (L - 1 + 1) * w + w / (2 * L), y0, w * (L - start) / L, h);
    for (let l = 0; l < L; l++) for (let k = 0; k < H; k++) {
      const px = x0 + (l + 0.5) / L * w, py = y0 + h - dist[l][k] / top * h;
      rctx.fillStyle = l >= start ? "#4C72B0" : "#aaa"; rctx.beginPath(); rctx.arc(px, py, 3, 0, 7); rctx.fill();
    }
    rctx.fillStyle = "#333"; rctx.font = "12px sans-serif"; rctx.textAlign = "center"; rctx.textBaseline = "top";
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
}

export default { render };
