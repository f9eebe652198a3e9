// ch7: exact GELU, tanh GELU and ReLU over a range you choose (zoom with the sliders or the wheel).

import { vtCanvas, vtCanvasXY, vtDrawn, vtFmt, vtRoot, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function vtErf(x) {
  const s = Math.sign(x), z = Math.abs(x);
  if (z < 3) { // Taylor series (double precision is ample up to 3)
    let term = z, sum = z, n = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) && n < 200) {
      n += 1;
      term *= -z * z / n;
      sum += term / (2 * n + 1);
    }
    return s * sum * 2 / Math.sqrt(Math.PI);
  }
  let k = z; // continued fraction for erfc, evaluated from the tail
  for (let n = 60; n >= 1; n--) k = z + (n / 2) / k;
  return s * (1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / k);
}
const vtActs = {
  exact: (x) => 0.5 * x * (1 + vtErf(x / Math.SQRT2)),
  tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
  relu: (x) => Math.max(0, x),
};

function vtAxes(ctx, x0, y0, w, h, xlo, xhi, ylo, yhi, title) {
  const th = vtTheme(ctx.canvas);
  ctx.strokeStyle = th.grid; ctx.lineWidth = 1; ctx.strokeRect(x0, y0, w, h);
  ctx.fillStyle = th.fg; ctx.font = "16px sans-serif"; ctx.textBaseline = "bottom"; ctx.textAlign = "left";
  ctx.fillText(title, x0, y0 - 4);
  ctx.font = "15px sans-serif"; ctx.textBaseline = "top";
  ctx.fillText(vtFmt(xlo), x0, y0 + h + 3); ctx.textAlign = "right"; ctx.fillText(vtFmt(xhi), x0 + w, y0 + h + 3);
  ctx.textBaseline = "middle"; ctx.fillText(vtFmt(yhi), x0 - 4, y0 + 6); ctx.fillText(vtFmt(ylo), x0 - 4, y0 + h - 6);
  if (ylo < 0 && yhi > 0) { // y = 0
    const y = y0 + h * (yhi / (yhi - ylo));
    ctx.strokeStyle = th.faint; ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x0 + w, y); ctx.stroke();
  }
}

function vtCurve(ctx, xs, ys, x0, y0, w, h, ylo, yhi, color, dash = []) {
  ctx.save(); ctx.beginPath(); ctx.rect(x0, y0, w, h); ctx.clip();
  ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash); ctx.beginPath();
  for (let i = 0; i < xs.length; i++) {
    const px = x0 + (i / (xs.length - 1)) * w, py = y0 + h * (yhi - ys[i]) / (yhi - ylo);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  }
  ctx.stroke(); ctx.restore();
}

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "activations", "Activations: exact GELU, tanh GELU, ReLU");
  const state = { centre: 0, width: 8 };
  // the layout: two plots one above the other, sharing the x axis (canvas pixels)
  const X0 = 70, W = 550, TOP = { y: 24, h: 220 }, GAP = { y: TOP.y + TOP.h + 46, h: 100 };
  const canvas = vtCanvas(X0 + W + 20, GAP.y + GAP.h + 30, "the three activations, and exact minus tanh GELU, over the chosen range");
  canvas.dataset.wheel = "1"; canvas.classList.add("vt-clickable");
  ui.figure.append(canvas);
  const ctx = canvas.getContext("2d");
  const hist = data.hist ? vtUnpack(data.hist).values : null;

  function draw() {
    const th = vtTheme(el);
    const lo = state.centre - state.width / 2, hi = state.centre + state.width / 2, n = 400;
    const xs = [], ys = { exact: [], tanh: [], relu: [], gap: [] };
    for (let i = 0; i < n; i++) {
      const x = lo + (hi - lo) * i / (n - 1); xs.push(x);
      for (const k of ["exact", "tanh", "relu"]) ys[k].push(vtActs[k](x));
      ys.gap.push(ys.exact[i] - ys.tanh[i]);
    }
    const all = ys.exact.concat(ys.tanh, ys.relu);
    let ylo = Math.min(...all), yhi = Math.max(...all);
    if (yhi - ylo < 1e-12) { yhi += 1e-6; ylo -= 1e-6; }
    const pad = (yhi - ylo) * 0.05; ylo -= pad; yhi += pad;
    let glo = Math.min(...ys.gap), ghi = Math.max(...ys.gap);
    if (ghi - glo < 1e-15) { ghi += 1e-9; glo -= 1e-9; }
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const x0 = X0, w = W;
    vtAxes(ctx, x0, TOP.y, w, TOP.h, lo, hi, ylo, yhi, "activation(x)");
    if (hist && data.hist_range) { // where layer 0's MLP inputs fall (grey bars)
      const [hlo, hhi] = data.hist_range, bins = hist.length, top = Math.max(...hist) || 1;
      ctx.fillStyle = "rgba(120,120,120,0.18)";
      for (let b = 0; b < bins; b++) {
        const a = hlo + (hhi - hlo) * b / bins, z = a + (hhi - hlo) / bins;
        const pa = x0 + w * (a - lo) / (hi - lo), pz = x0 + w * (z - lo) / (hi - lo);
        if (pz < x0 || pa > x0 + w) continue;
        const hh = TOP.h * hist[b] / top * 0.9;
        ctx.fillRect(Math.max(x0, pa), TOP.y + TOP.h - hh, Math.min(x0 + w, pz) - Math.max(x0, pa), hh);
      }
    }
    vtCurve(ctx, xs, ys.relu, x0, TOP.y, w, TOP.h, ylo, yhi, "#55A868");
    vtCurve(ctx, xs, ys.exact, x0, TOP.y, w, TOP.h, ylo, yhi, "#4C72B0");
    vtCurve(ctx, xs, ys.tanh, x0, TOP.y, w, TOP.h, ylo, yhi, "#DD8452", [6, 4]);
    ctx.font = "15px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
    [["#4C72B0", "GELU (exact, erf)"], ["#DD8452", "GELU (tanh approx.)"], ["#55A868", "ReLU"]].forEach(([c, t], i) => {
      ctx.fillStyle = c; ctx.fillRect(x0 + 8, TOP.y + 14 + i * 20, 14, 3); ctx.fillStyle = th.fg; ctx.fillText(t, x0 + 26, TOP.y + 15 + i * 20);
    });
    vtAxes(ctx, x0, GAP.y, w, GAP.h, lo, hi, glo, ghi, "exact − tanh GELU");
    vtCurve(ctx, xs, ys.gap, x0, GAP.y, w, GAP.h, glo, ghi, "#C44E52");
    let worst = 0;
    for (let i = 1; i < n; i++) if (Math.abs(ys.gap[i]) > Math.abs(ys.gap[worst])) worst = i;
    ui.readout.textContent = `x from ${vtFmt(lo)} to ${vtFmt(hi)}: largest |exact − tanh| = ${Math.abs(ys.gap[worst]).toExponential(2)} at x = ${vtFmt(xs[worst])}`
      + (hist ? "; grey bars: where layer 0's MLP inputs fall for this photo" : "");
    vtDrawn(el);
  }

  const centre = vtSlider("centre", -8, 8, 0, (v) => { state.centre = v; draw(); }, { step: 0.05, format: (v) => v.toFixed(2) });
  const zoom = vtSlider("zoom", 0, 10, 0, (v) => { state.width = 8 / Math.pow(2, v); draw(); },
    { step: 0.5, format: (v) => `×${vtFmt(Math.pow(2, v))}` });
  ui.controls.append(centre.node, zoom.node);
  canvas.addEventListener("wheel", (event) => { // zoom around the pointer
    event.preventDefault();
    const [px] = vtCanvasXY(canvas, event);
    const x = state.centre - state.width / 2 + state.width * Math.min(1, Math.max(0, (px - X0) / W));
    const z = Math.min(10, Math.max(0, Number(zoom.input.value) + (event.deltaY < 0 ? 0.5 : -0.5)));
    zoom.set(z);
    const width = 8 / Math.pow(2, z);
    state.centre = Math.min(8, Math.max(-8, x - (x - state.centre) * width / state.width));
    state.width = width;
    centre.set(state.centre);
    draw();
  }, { passive: false });
  draw();
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
