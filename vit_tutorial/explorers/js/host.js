// The book's host for the vit_tutorial explorers: no kernel, no widget manager, no network.
// Each notebook output of an explorer carries <div data-explorer="NAME"> with its data as JSON
// (vit_tutorial.explorers._base.static_html). We import NAME.js from this folder and call its
// render({model, el}) with a small stand-in for anywidget's model.

function standInModel(state) {
  const listeners = {};
  return {
    get: (key) => state[key],
    set(key, value) { state[key] = value; (listeners["change:" + key] || []).forEach((cb) => cb()); },
    on(event, cb) { (listeners[event] = listeners[event] || []).push(cb); },
    off(event, cb) { if (!event) { for (const k in listeners) delete listeners[k]; return; }
      listeners[event] = (listeners[event] || []).filter((f) => cb && f !== cb); },
    save_changes() {},
    send() {},
  };
}

async function mount(el) {
  if (el.dataset.mounted) return;
  el.dataset.mounted = "1";
  const name = el.dataset.explorer;
  try {
    const script = el.querySelector("script.vt-explorer-data");
    const data = JSON.parse(script.textContent);
    const module = await import(new URL(`./${name}.js`, import.meta.url).href);
    await module.default.render({ model: standInModel({ name, data }), el });
  } catch (err) {
    el.dataset.failed = String(err);
    console.error(`explorer ${name}:`, err);
  }
}

function mountAll() { document.querySelectorAll("[data-explorer]").forEach(mount); }
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
else mountAll();
