// The book's host for the vit_tutorial explorers: no kernel, no widget manager, no network.
// Each notebook output of an explorer carries <div data-explorer="NAME"> with its data as JSON
// (vit_tutorial.explorers._base.static_html). A page with explorers loads, as classic scripts (they
// work from disk too), one script per explorer it holds and then this host, all linked by
// vit_tutorial/explorers/bundle.py; each explorer registers itself on globalThis.vitTutorial.explorers
// and this host calls its render({model, el}) with a small stand-in for anywidget's model.

function standInModel(state) {
  const listeners = {};
  return {
    get: (key) => state[key],
    set(key, value) { state[key] = value; (listeners["change:" + key] || []).forEach((cb) => cb()); },
    on(event, cb) { (listeners[event] = listeners[event] || []).push(cb); },
    off(event, cb) {
      if (!event) { for (const k in listeners) delete listeners[k]; return; }
      listeners[event] = (listeners[event] || []).filter((f) => cb && f !== cb);
    },
    save_changes() {},
    send() {},
  };
}

export function mount(el, module) {
  if (el.dataset.mounted) return;
  el.dataset.mounted = "1";
  const name = el.dataset.explorer;
  try {
    if (!module) throw new Error(`no script for explorer ${name} on this page`);
    const data = JSON.parse(el.querySelector("script.vt-explorer-data").textContent);
    const done = (module.default || module).render({ model: standInModel({ name, data }), el });
    if (done && typeof done.catch === "function") done.catch((err) => fail(el, name, err));
  } catch (err) {
    fail(el, name, err);
  }
}

function fail(el, name, err) {
  el.dataset.failed = String(err);
  console.error(`explorer ${name}:`, err);
}

// Mount every explorer on the page whose script has arrived; once the page has loaded, the rest
// fail visibly (their script is missing).
export function mountAll(modules) {
  const go = (final) => document.querySelectorAll("[data-explorer]").forEach((el) => {
    const module = modules[el.dataset.explorer];
    if (module || final) mount(el, module);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => go(false));
  else go(false);
  if (document.readyState === "complete") go(true);
  else window.addEventListener("load", () => go(true));
}
