// ch5: one token's values before LayerNorm, normalised, and after gamma and beta, with mean and std.

import { vtCanvas, vtDrawn, vtEl, vtFmt, vtRoot, vtSelect, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "layernorm", "LayerNorm, token by token");
  const x = vtUnpack(data.x), gamma = vtUnpack(data.weight).values, beta = vtUnpack(data.bias).values;
  const [n, D] = x.shape;
  // each token normalised here with its exact mean and 1 / sqrt(var + eps) (data.centre), then
  // scaled by γ and shifted by β
  const normed = new Float32Array(n * D), after = new Float32Array(n * D);
  for (let t = 0; t < n; t++) {
    const [mean, scale] = data.centre[t];
    for (let d = 0; d < D; d++) {
      normed[t * D + d] = (x.values[t * D + d] - mean) * scale;
      after[t * D + d] = normed[t * D + d] * gamma[d] + beta[d];
    }
  }
  const state = { token: data.token, view: "histogram" };
  const names = ["before (the embedding)", "normalised", "after γ and β"];
  // one panel per stage (canvas pixels): two lines of text, the plot, its axis labels
  const X0 = 10, Y0 = 44, W = 220, H = 200, PANEL_W = X0 + W + 10, PANEL_H = Y0 + H + 26;
  const canvases = names.map((nm) => vtCanvas(PANEL_W, PANEL_H, `the token's values: ${nm}`));
  ui.figure.append(...canvases.map((c) => vtEl("div", { style: `flex: 1 1 200px; max-width: ${PANEL_W}px` }, c)));
  let ctx = null;

  function panel(values, off, k, mean, std) {
    ctx = canvases[k].getContext("2d");
    ctx.clearRect(0, 0, PANEL_W, PANEL_H);
    const x0 = X0, y0 = Y0, w = W, h = H, th = vtTheme(el);
    let lo = Infinity, hi = -Infinity;
    for (let d = 0; d < D; d++) { const v = values[off + d]; if (v < lo) lo = v; if (v > hi) hi = v; }
    if (hi <= lo) hi = lo + 1;
    ctx.fillStyle = th.fg; ctx.font = "14px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillText(names[k], x0, 4);
    ctx.fillText(`mean ${vtFmt(mean, 3)}, std ${vtFmt(std, 3)}`, x0, 22);
    ctx.strokeStyle = th.grid; ctx.strokeRect(x0, y0, w, h);
    const X = (v) => x0 + (v - lo) / (hi - lo) * w;
    ctx.fillStyle = "rgba(76,114,176,0.12)"; // mean +- std
    ctx.fillRect(Math.max(x0, X(mean - std)), y0, Math.min(x0 + w, X(mean + std)) - Math.max(x0, X(mean - std)), h);
    if (state.view === "histogram") {
      const bins = 40, counts = new Array(bins).fill(0);
      for (let d = 0; d < D; d++) counts[Math.min(bins - 1, Math.floor((values[off + d] - lo) / (hi - lo) * bins))] += 1;
      const top = Math.max(...counts);
      ctx.fillStyle = "#4C72B0";
      for (let b = 0; b < bins; b++) { const bh = counts[b] / top * (h - 6); ctx.fillRect(x0 + b * w / bins, y0 + h - bh, w / bins - 1, bh); }
    } else { // every feature, in order: value (x) against feature index (y)
      ctx.fillStyle = "#4C72B0";
      for (let d = 0; d < D; d++) ctx.fillRect(X(values[off + d]) - 1, y0 + d / D * h, 2, Math.max(1, h / D));
    }
    ctx.strokeStyle = "#C44E52"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(X(mean), y0); ctx.lineTo(X(mean), y0 + h); ctx.stroke();
    ctx.fillStyle = th.fg; ctx.font = "12px sans-serif"; ctx.textBaseline = "top";
    ctx.fillText(vtFmt(lo), x0, y0 + h + 4); ctx.textAlign = "right"; ctx.fillText(vtFmt(hi), x0 + w, y0 + h + 4);
  }

  function draw() {
    const t = state.token, s = data.stats[t];
    panel(x.values, t * D, 0, s[0], s[1]);
    panel(normed, t * D, 1, s[2], s[3]);
    panel(after, t * D, 2, s[4], s[5]);
    ui.readout.textContent = `${t === 0 ? "[CLS]" : "token " + t}: mean ${vtFmt(s[0], 4)} and std ${vtFmt(s[1], 4)} before; `
      + `normalised: mean ${vtFmt(s[2], 2)}, std ${vtFmt(s[3], 4)} (ε = ${data.eps}); after γ, β: mean ${vtFmt(s[4], 4)}, std ${vtFmt(s[5], 4)}. `
      + "Red line: the mean; shaded: mean ± std.";
    vtDrawn(el);
  }
  const token = vtSlider("token", 0, n - 1, state.token, (v) => { state.token = v; draw(); }, { format: (v) => (v === 0 ? "[CLS]" : String(v)) });
  const view = vtSelect("show", [["histogram", "histogram"], ["values", "every value, in feature order"]], state.view,
    (v) => { state.view = v; draw(); });
  ui.controls.append(token.node, view.node);
  draw();
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
