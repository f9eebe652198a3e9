// Shared helpers of the vit_tutorial explorers: each explorer imports what it uses
// (`import { vtRoot } from "./_common.js"`); vit_tutorial/explorers/bundle.py links them into one file.
// Contract: anywidget's `export default { render({ model, el }) }`; the data is model.get("data").

export function vtB64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Decode an array packed by vit_tutorial.explorers._base.pack -> {shape, values: Float32Array}
export function vtUnpack(p) {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const bytes = vtB64(p.q);
  const lo = new Float32Array(vtB64(p.lo).buffer);
  const hi = new Float32Array(vtB64(p.hi).buffer);
  const row = p.rowwise ? p.shape[p.shape.length - 1] : n;
  const levels = (1 << p.bits) - 1;
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const q = p.bits === 8 ? bytes[i] : (bytes[i >> 1] >> ((i & 1) * 4)) & 15;
    const r = (i / row) | 0;
    values[i] = lo[r] + (q / levels) * (hi[r] - lo[r]);
  }
  return { shape: p.shape, values };
}

export function vtEl(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// On every control: JupyterLab's notebook binds the arrow keys (and more) to moving between cells
// for whatever has the focus, so a focused slider or menu would never see them. Lumino skips its
// shortcuts for an element with this attribute; elsewhere it means nothing.
export const VT_OWN_KEYS = { "data-lm-suppress-shortcuts": "true" };

let vtIds = 0;
export function vtId(prefix) { vtIds += 1; return `vt-${prefix}-${vtIds}-${Math.random().toString(36).slice(2, 7)}`; }

// A labelled range input; onChange(value:number). Returns {node, input, set(value)}.
export function vtSlider(label, min, max, value, onChange, { step = 1, format = (v) => String(v) } = {}) {
  const id = vtId("s");
  const input = vtEl("input", { type: "range", id, min, max, step, value, ...VT_OWN_KEYS });
  const shown = vtEl("output", { for: id, class: "vt-value", text: format(Number(value)) });
  const node = vtEl("div", { class: "vt-control" }, vtEl("label", { for: id, text: label }), input, shown);
  input.addEventListener("input", () => { shown.textContent = format(Number(input.value)); onChange(Number(input.value)); });
  return {
    node, input,
    set(v) { input.value = v; shown.textContent = format(Number(input.value)); },
    setMax(m) { input.max = m; },
  };
}

// A labelled <select>; options: [[value, text], ...]; onChange(value:string).
export function vtSelect(label, options, value, onChange) {
  const id = vtId("c");
  const select = vtEl("select", { id, ...VT_OWN_KEYS });
  for (const [v, t] of options) {
    const o = vtEl("option", { value: String(v), text: t });
    if (String(v) === String(value)) o.selected = true;
    select.append(o);
  }
  select.addEventListener("change", () => onChange(select.value));
  const node = vtEl("div", { class: "vt-control" }, vtEl("label", { for: id, text: label }), select);
  return { node, input: select, set(v) { select.value = String(v); } };
}

export function vtCheckbox(label, checked, onChange) {
  const id = vtId("k");
  const input = vtEl("input", { type: "checkbox", id, ...VT_OWN_KEYS });
  input.checked = checked;
  input.addEventListener("change", () => onChange(input.checked));
  const node = vtEl("div", { class: "vt-control" }, input, vtEl("label", { for: id, text: label }));
  return { node, input, set(v) { input.checked = v; } };
}

// A canvas with a fixed drawing size that scales down with its box (CSS), and its context.
export function vtCanvas(width, height, label) {
  const c = vtEl("canvas", { width, height, role: "img", "aria-label": label, class: "vt-canvas" });
  c.style.maxWidth = width + "px";
  return c;
}

// The canvas pixel under a mouse event (the canvas may be shown smaller than it is).
export function vtCanvasXY(canvas, event) {
  const r = canvas.getBoundingClientRect();
  return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height];
}

// viridis, 9 stops, interpolated
export const VT_VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
export const VT_COOLWARM = [[59, 76, 192], [98, 130, 234], [141, 176, 254], [184, 208, 249], [221, 221, 221],
  [245, 196, 173], [244, 154, 123], [222, 96, 77], [180, 4, 38]];
export function vtColor(t, stops = VT_VIRIDIS) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
  const a = stops[i], b = stops[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}
export function vtCss(rgb, alpha = 1) { return `rgba(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0},${alpha})`; }

// Draw a rows x cols map (values[offset ...]) into the rectangle (x, y, w, h).
export function vtHeat(ctx, values, offset, rows, cols, x, y, w, h, { lo, hi, alpha = 1, stops = VT_VIRIDIS } = {}) {
  if (lo === undefined || hi === undefined) {
    lo = Infinity; hi = -Infinity;
    for (let i = 0; i < rows * cols; i++) { const v = values[offset + i]; if (v < lo) lo = v; if (v > hi) hi = v; }
  }
  const span = hi > lo ? hi - lo : 1;
  const cw = w / cols, ch = h / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    ctx.fillStyle = vtCss(vtColor((values[offset + r * cols + c] - lo) / span, stops), alpha);
    ctx.fillRect(x + c * cw, y + r * ch, Math.ceil(cw), Math.ceil(ch));
  }
  return [lo, hi];
}

export function vtColorbar(ctx, x, y, w, h, lo, hi, { stops = VT_VIRIDIS, digits = 3 } = {}) {
  for (let i = 0; i < h; i++) { ctx.fillStyle = vtCss(vtColor(1 - i / (h - 1), stops)); ctx.fillRect(x, y + i, w, 1); }
  ctx.fillStyle = vtTheme(ctx.canvas).fg; ctx.font = "12px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
  ctx.fillText(vtFmt(hi, digits), x + w + 4, y + 6);
  ctx.fillText(vtFmt(lo, digits), x + w + 4, y + h - 6);
}

export function vtFmt(v, digits = 3) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(digits).replace(/\.?0+$/, (m) => (m.includes(".") ? "" : m));
}

// Load a data: URI image; resolves to an HTMLImageElement (decoded).
export function vtImage(uri) {
  const img = new Image();
  img.src = uri;
  return (img.decode ? img.decode() : Promise.resolve()).then(() => img, () => img);
}

// The root of an explorer, and its first-picture mark for the browser test.
export function vtRoot(el, name, title) {
  el.classList.add("vt-explorer");
  el.dataset.explorer = name;
  for (const c of Array.from(el.children)) if (!(c.tagName === "SCRIPT")) c.remove();
  const controls = vtEl("div", { class: "vt-controls", role: "group", "aria-label": title + ": controls" });
  const figure = vtEl("div", { class: "vt-figure" });
  const readout = vtEl("p", { class: "vt-readout", "aria-live": "polite" });
  el.append(vtEl("p", { class: "vt-title", text: title }), controls, figure, readout);
  return { controls, figure, readout };
}
export function vtDrawn(el) {
  if (!el.dataset.firstPicture) el.dataset.firstPicture = performance.now().toFixed(1);
}

// A stamp (which weights drew this) under the figure.
export function vtStamp(el, data) {
  if (data.stamp) el.append(vtEl("p", { class: "vt-stamp", text: data.stamp }));
}

// The colours of the page around an explorer, for what a canvas draws (the DOM parts follow the
// stylesheet by themselves). explorers.css sets them from the book's light or dark theme, or from
// JupyterLab's; read them at every draw.
export function vtTheme(el) {
  const style = getComputedStyle(el);
  const get = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    fg: get("--vt-fg", "#222"), muted: get("--vt-muted", "#666"), bg: get("--vt-bg", "#fff"),
    grid: get("--vt-grid", "#bbb"), faint: get("--vt-faint", "#ddd"), accent: get("--vt-accent", "#0969da"),
    empty: get("--vt-empty", "#eee"),
  };
}

// Call redraw() when the page switches between light and dark (the book's theme switch, the reader's
// system setting, JupyterLab's theme). Returns a function that stops watching.
export function vtOnTheme(el, redraw) {
  let last = JSON.stringify(vtTheme(el));
  const check = () => {
    const now = JSON.stringify(vtTheme(el));
    if (now !== last) { last = now; redraw(); }
  };
  const later = () => { check(); setTimeout(check, 300); }; // JupyterLab loads a new theme's CSS a moment later
  const watcher = new MutationObserver(later);
  for (const node of [document.documentElement, document.body]) {
    if (node) watcher.observe(node, { attributes: true, attributeFilter: ["data-theme", "data-mode", "class", "data-jp-theme-light", "data-jp-theme-name"] });
  }
  const system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (system && system.addEventListener) system.addEventListener("change", later);
  return () => { watcher.disconnect(); if (system && system.removeEventListener) system.removeEventListener("change", later); };
}

// Where a feature cannot work in a page opened from disk (file://), say so in one line.
export function vtFromDisk() { return typeof location !== "undefined" && location.protocol === "file:"; }
export function vtDiskNote(el, what) {
  const note = vtEl("p", { class: "vt-disk-note", role: "note",
    text: `${what} needs the book served, not opened from disk: run  python -m http.server -d _build/html  and open localhost:8000.` });
  el.append(note);
  return note;
}
