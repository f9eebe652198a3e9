// ch6: the residual stream. Per layer, the length of the stream and of what each branch adds,
// for one token (slider, or click the map of all tokens).

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "residual", "The residual stream, layer by layer");
  const stream = vtUnpack(data.stream), attn = vtUnpack(data.attention).values, mlp = vtUnpack(data.mlp).values;
  const cut = data.cut ? vtUnpack(data.cut).values : null;
  const [S, N] = stream.shape, L = S - 1; // log10 lengths
  const state = { token: data.token, scale: "log" };
  const plot = vtCanvas(560, 300, "lengths of the stream and of the two branches' contributions, per layer");
  const map = vtCanvas(560, 150, "the stream's length for every token (columns) after every layer (rows); click a token");
  map.classList.add("vt-clickable");
  ui.figure.append(vtEl("div", { style: "flex: 1 1 100%; max-width: 560px" }, plot, map));
  const pctx = plot.getContext("2d"), mctx = map.getContext("2d");
  const series = [["stream (with residuals)", "#4C72B0", stream.values, 0, []], ["attention branch adds", "#DD8452", attn, 1, []],
    ["MLP branch adds", "#55A868", mlp, 1, []]];
  if (cut) series.push(["stream, residuals cut", "#8172B3", cut, 0, [5, 4]]);

  function draw() {
    const t = state.token, x0 = 60, y0 = 20, w = 480, h = 220;
    let lo = Infinity, hi = -Infinity;
    for (const [, , v, start] of series) for (let l = start; l < S; l++) {
      const y = v[(l - start) * N + t]; if (y < lo) lo = y; if (y > hi) hi = y;
    }
    if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
    const lin = state.scale === "linear";
    const Y = (v) => { const a = lin ? Math.pow(10, v) : v, b = lin ? Math.pow(10, lo) : lo, c = lin ? Math.pow(10, hi) : hi;
      return y0 + h - (a - (lin ? 0 : b)) / (c - (lin ? 0 : b)) * h; };
    const X = (l) => x0 + l / L * w;
    pctx.clearRect(0, 0, 560, 300);
    pctx.strokeStyle = "#bbb"; pctx.lineWidth = 1; pctx.strokeRect(x0, y0, w, h);
    pctx.fillStyle = "#333"; pctx.font = "12px sans-serif"; pctx.textAlign = "center"; pctx.textBaseline = "top";
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
      pctx.fillStyle = "#333"; pctx.fillText(name, x0 + 26, y0 + 11 + k * 16);
    });
    // all tokens, all layers
    mctx.clearRect(0, 0, 560, 150);
    vtHeat(mctx, stream.values, 0, S, N, 60, 4, 480, 110);
    mctx.strokeStyle = "#00e5ff"; mctx.lineWidth = 2; mctx.strokeRect(60 + t * 480 / N, 3, Math.max(2, 480 / N), 112);
    mctx.fillStyle = "#333"; mctx.font = "12px sans-serif"; mctx.textAlign = "right"; mctx.textBaseline = "top";
    mctx.fillText("layer 0", 56, 4); mctx.fillText(`layer ${L}`, 56, 100);
    mctx.textAlign = "left"; mctx.fillText("[CLS]", 60, 120); mctx.textAlign = "right"; mctx.fillText(`token ${N - 1}`, 540, 120);
    mctx.textAlign = "center"; mctx.fillText("log length of every token after every layer (click to pick a token)", 300, 134);
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
    if (x < 60 || x > 540) return;
    state.token = Math.min(N - 1, Math.floor((x - 60) / 480 * N)); token.set(state.token); draw();
  });
  draw();
  vtStamp(el, data);
}

export default { render };
