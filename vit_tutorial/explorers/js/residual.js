// ch6: the residual stream. Per layer, the length of the stream and of what each branch adds,
// for one token (slider, or click the map of all tokens).

import { vtCanvas, vtCanvasXY, vtDrawn, vtEl, vtFmt, vtHeat, vtRoot, vtSelect, vtSlider, vtStamp, vtUnpack, vtOnTheme, vtTheme } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "residual", "The residual stream, layer by layer");
  const stream = vtUnpack(data.stream), attn = vtUnpack(data.attention).values, mlp = vtUnpack(data.mlp).values;
  const cut = data.cut ? vtUnpack(data.cut).values : null;
  const [S, N] = stream.shape, L = S - 1; // log10 lengths
  const state = { token: data.token, scale: "log" };
  // the layout (canvas pixels): the line plot, and under it the map of every token, sharing x0 and w
  const X0 = 60, W = 480, WIDTH = X0 + W + 20, PLOT = { y: 20, h: 220 }, MAP = { y: 4, h: 110 };
  const plot = vtCanvas(WIDTH, PLOT.y + PLOT.h + 60, "lengths of the stream and of the two branches' contributions, per layer");
  const map = vtCanvas(WIDTH, MAP.y + MAP.h + 36, "the stream's length for every token (columns) after every layer (rows); click a token");
  map.classList.add("vt-clickable");
  ui.figure.append(vtEl("div", { style: `flex: 1 1 100%; max-width: ${WIDTH}px` }, plot, map));
  const pctx = plot.getContext("2d"), mctx = map.getContext("2d");
  const series = [["stream (with residuals)", "#4C72B0", stream.values, 0, []], ["attention branch adds", "#DD8452", attn, 1, []],
    ["MLP branch adds", "#55A868", mlp, 1, []]];
  if (cut) series.push(["stream, residuals cut", "#8172B3", cut, 0, [5, 4]]);

  function draw() {
    const t = state.token, x0 = X0, y0 = PLOT.y, w = W, h = PLOT.h, th = vtTheme(el);
    let lo = Infinity, hi = -Infinity;
    for (const [, , v, start] of series) for (let l = start; l < S; l++) {
      const y = v[(l - start) * N + t]; if (y < lo) lo = y; if (y > hi) hi = y;
    }
    if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
    const lin = state.scale === "linear";
    const Y = (v) => { const a = lin ? Math.pow(10, v) : v, b = lin ? Math.pow(10, lo) : lo, c = lin ? Math.pow(10, hi) : hi;
      return y0 + h - (a - (lin ? 0 : b)) / (c - (lin ? 0 : b)) * h; };
    const X = (l) => x0 + l / L * w;
    pctx.clearRect(0, 0, plot.width, plot.height);
    pctx.strokeStyle = th.grid; pctx.lineWidth = 1; pctx.strokeRect(x0, y0, w, h);
    pctx.fillStyle = th.fg; pctx.font = "12px sans-serif"; pctx.textAlign = "center"; pctx.textBaseline = "top";
    for (let l = 0; l <= L; l += Math.max(1, Math.round(L / 12))) pctx.fillText(String(l), X(l), y0 + h + 4);
    pctx.fillText("layer (0 = the embeddings)", x0 + w / 2, y0 + h + 20);
    pctx.textAlign = "right"; pctx.textBaseline = "middle";
    pctx.fillText(vtFmt(Math.pow(10, hi)), x0 - 4, y0 + 6);
    pctx.fillText(lin ? "0" : vtFmt(Math.pow(10, lo)), x0 - 4, y0 + h - 6);
    series.forEach(([name, color, v, start, dash], k) => {
      pctx.strokeStyle = color; pctx.fillStyle = color; pctx.lineWidth = 2; pctx.setLineDash(dash); pctx.beginPath();
      for (let l = start; l < S; l++) { const px = X(l), py = Y(v[(l - start) * N + t]); if (l === start) pctx.moveTo(px, py); else pctx.lineTo(px, py); }
      pctx.stroke(); pctx.setLineDash([]);
      for (let l = start; l < S; l++) { pctx.beginPath(); pctx.arc(X(l), Y(v[(l - start) * N + t]), 2.5, 0, 7); pctx.fill(); }
      pctx.textAlign = "left"; pctx.fillRect(x0 + 8, y0 + 10 + k * 16, 14, 3);
      pctx.fillStyle = th.fg; pctx.fillText(name, x0 + 26, y0 + 11 + k * 16);
    });
    // all tokens, all layers
    mctx.clearRect(0, 0, map.width, map.height);
    vtHeat(mctx, stream.values, 0, S, N, X0, MAP.y, W, MAP.h);
    mctx.strokeStyle = "#00e5ff"; mctx.lineWidth = 2; mctx.strokeRect(X0 + t * W / N, MAP.y - 1, Math.max(2, W / N), MAP.h + 2);
    mctx.fillStyle = th.fg; mctx.font = "12px sans-serif"; mctx.textAlign = "right"; mctx.textBaseline = "top";
    mctx.fillText("layer 0", X0 - 4, MAP.y); mctx.fillText(`layer ${L}`, X0 - 4, MAP.y + MAP.h - 14);
    const under = MAP.y + MAP.h + 6;
    mctx.textAlign = "left"; mctx.fillText("[CLS]", X0, under); mctx.textAlign = "right"; mctx.fillText(`token ${N - 1}`, X0 + W, under);
    mctx.textAlign = "center"; mctx.fillText("log length of every token after every layer (click to pick a token)", X0 + W / 2, under + 14);
    const last = Math.pow(10, stream.values[L * N + t]), first = Math.pow(10, stream.values[t]);
    ui.readout.textContent = `${t === 0 ? "[CLS]" : "token " + t}: length ${vtFmt(first)} after the embeddings, ${vtFmt(last)} after layer ${L}`
      + (cut ? `; with the residuals cut, ${vtFmt(Math.pow(10, cut[L * N + t]))}.` : ".");
    vtDrawn(el);
  }
  const token = vtSlider("token", 0, N - 1, state.token, (v) => { state.token = v; draw(); }, { format: (v) => (v === 0 ? "[CLS]" : String(v)) });
  const scale = vtSelect("scale", [["log", "logarithmic"], ["linear", "linear"]], state.scale, (v) => { state.scale = v; draw(); });
  ui.controls.append(token.node, scale.node);
  map.addEventListener("click", (event) => {
    const [x] = vtCanvasXY(map, event);
    if (x < X0 || x > X0 + W) return;
    state.token = Math.min(N - 1, Math.floor((x - X0) / W * N)); token.set(state.token); draw();
  });
  draw();
  vtStamp(el, data);
  return vtOnTheme(el, draw);
}

export default { render };
