// ch2: one patch, its pixels, its embedding, and the patches with the nearest embeddings.

import { VT_COOLWARM, vtCanvas, vtCanvasXY, vtDrawn, vtEl, vtHeat, vtImage, vtRoot, vtSlider, vtStamp,
  vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "patches", "Patches: one patch and its embedding");
  const [rows, cols] = data.grid, n = rows * cols;
  const emb = vtUnpack(data.embeddings), D = emb.shape[1];
  const state = { index: data.index };
  // the layout (canvas pixels): the photo at twice the model's 224 px; beside it the chosen patch
  // enlarged (ZOOM square) and its embedding as a heat strip of PER values a row
  const SIDE = 448, SIDE_W = 360, ZOOM = 180, LINE = 20, PER = 32, STRIP_W = 320;
  const big = vtCanvas(SIDE, SIDE, "the photo cut into patches; click a patch to choose it");
  big.classList.add("vt-clickable");
  const side = vtCanvas(SIDE_W, SIDE, "the chosen patch enlarged, and its embedding vector");
  ui.figure.append(vtEl("div", { style: `flex: 1 1 280px; max-width: ${SIDE}px` }, big),
    vtEl("div", { style: `flex: 1 1 240px; max-width: ${SIDE_W}px` }, side));
  const bctx = big.getContext("2d"), sctx = side.getContext("2d");
  let photo = null;
  const cw = SIDE / cols, ch = SIDE / rows;

  function box(ctx, i, color, width, label) {
    const r = Math.floor(i / cols), c = i % cols;
    ctx.strokeStyle = color; ctx.lineWidth = width;
    ctx.strokeRect(c * cw + width / 2, r * ch + width / 2, cw - width, ch - width);
    if (label) {
      ctx.fillStyle = color; ctx.font = "bold 13px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText(label, c * cw + cw / 2, r * ch + ch / 2);
    }
  }

  function draw() {
    const i = state.index, r = Math.floor(i / cols), c = i % cols, th = vtTheme(el);
    bctx.clearRect(0, 0, SIDE, SIDE);
    if (photo) bctx.drawImage(photo, 0, 0, SIDE, SIDE);
    else { bctx.fillStyle = th.empty; bctx.fillRect(0, 0, SIDE, SIDE); }
    bctx.strokeStyle = "rgba(255,255,255,0.35)"; bctx.lineWidth = 1;
    for (let k = 1; k < cols; k++) { bctx.beginPath(); bctx.moveTo(k * cw, 0); bctx.lineTo(k * cw, SIDE); bctx.stroke(); }
    for (let k = 1; k < rows; k++) { bctx.beginPath(); bctx.moveTo(0, k * ch); bctx.lineTo(SIDE, k * ch); bctx.stroke(); }
    data.near[i].forEach((j, k) => box(bctx, j, "#ffb000", 2, String(k + 1)));
    box(bctx, i, "#00e5ff", 3);

    sctx.clearRect(0, 0, SIDE_W, SIDE);
    sctx.fillStyle = th.fg; sctx.font = "13px sans-serif"; sctx.textAlign = "left"; sctx.textBaseline = "top";
    sctx.fillText(`patch ${i} (row ${r}, col ${c}), enlarged`, 0, 0);
    sctx.imageSmoothingEnabled = false;
    if (photo) {
      const sw = photo.naturalWidth / cols, sh = photo.naturalHeight / rows;
      sctx.drawImage(photo, c * sw, r * sh, sw, sh, 0, LINE, ZOOM, ZOOM);
    }
    const below = LINE + ZOOM + 14;
    sctx.fillText(`its embedding: ${D} numbers`, 0, below);
    // the vector as a heat strip, PER values a row
    const lines = Math.ceil(D / PER);
    vtHeat(sctx, emb.values, i * D, lines, PER, 0, below + LINE, STRIP_W, Math.min(SIDE - below - LINE, lines * 8), { stops: VT_COOLWARM });
    vtDrawn(el);
    const near = data.near[i].map((j, k) => `${k + 1}: patch ${j} (cos ${data.near_cos[i][k]})`).join(", ");
    ui.readout.textContent = `Patch ${i}: embedding length ${data.norms[i]}. Nearest embeddings (orange): ${near}.`;
  }

  const index = vtSlider("patch", 0, n - 1, state.index, (v) => { state.index = v; draw(); });
  ui.controls.append(index.node);
  big.addEventListener("click", (event) => {
    const [x, y] = vtCanvasXY(big, event);
    state.index = Math.min(rows - 1, Math.floor(y / ch)) * cols + Math.min(cols - 1, Math.floor(x / cw));
    index.set(state.index); draw();
  });
  draw();
  vtImage(data.photo).then((img) => { photo = img; draw(); });
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
