// ch9: pick a photo, see the model's top-5 classes.

import { vtDrawn, vtEl, vtRoot, vtSelect, vtStamp } from "./_common.js";

function render({ model, el }) {
  const data = model.get("data");
  const ui = vtRoot(el, "predictions", "Predictions: the top five classes");
  const state = { i: 0 };
  const img = vtEl("img", { alt: "", style: "width: 100%; max-width: 224px; height: auto; display: block" });
  const table = vtEl("table", { class: "vt-bars" });
  ui.figure.append(vtEl("div", { style: "flex: 0 1 224px" }, img), vtEl("div", { style: "flex: 1 1 260px; min-width: 0" }, table));
  function draw() {
    const p = data.photos[state.i];
    img.src = p.photo; img.alt = p.title;
    table.replaceChildren(...p.top.map(([label, prob], k) => vtEl("tr", {},
      vtEl("td", { text: `${k + 1}. ${label.split(",")[0]}`, title: label, style: "width: 45%; overflow-wrap: anywhere" }),
      vtEl("td", { style: "width: 40%" }, vtEl("div", { class: "vt-bar", style: `width: ${Math.max(0.5, prob * 100)}%` })),
      vtEl("td", { text: `${(prob * 100).toFixed(prob < 0.001 ? 3 : 1)}%`, style: "text-align: right; white-space: nowrap" }))));
    ui.readout.textContent = `${p.title}: the model says "${p.top[0][0].split(",")[0]}" with probability ${(p.top[0][1] * 100).toFixed(2)}%.`;
    vtDrawn(el);
  }
  const pick = vtSelect("photo", data.photos.map((p, i) => [i, p.title]), 0, (v) => { state.i = Number(v); draw(); });
  ui.controls.append(pick.node);
  draw();
  vtStamp(el, data);
}

export default { render };
