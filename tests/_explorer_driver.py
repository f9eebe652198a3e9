"""Drive every explorer on an open Playwright page (shared by test_explorers and test_browser).

For each ``[data-explorer]`` root: wait for its first picture, then change every control
(range inputs, selects, checkboxes, and a click on each clickable canvas) and check that
the drawing changed: the canvases' pixels or the explorer's text. Returns what it found.
"""
from __future__ import annotations

from urllib.parse import urlparse

JS_ROOTS = "() => Array.from(document.querySelectorAll('[data-explorer]')).map(e => e.dataset.explorer)"

# A fingerprint of what explorer i shows: every canvas's pixels (as a data URL) and its text.
JS_SNAPSHOT = """
(i) => {
  const el = document.querySelectorAll('[data-explorer]')[i];
  const parts = Array.from(el.querySelectorAll('canvas')).map(c => c.toDataURL());
  parts.push(el.querySelector('.vt-figure')?.innerText || '');
  parts.push(el.querySelector('.vt-readout')?.innerText || '');
  return parts.join('|');
}
"""

JS_CONTROLS = """
(i) => {
  const el = document.querySelectorAll('[data-explorer]')[i];
  return Array.from(el.querySelectorAll('.vt-controls input, .vt-controls select')).map((c, k) => ({
    k, tag: c.tagName.toLowerCase(), type: c.type || '', label: (c.labels && c.labels[0]) ? c.labels[0].innerText : '',
    min: c.min, max: c.max, step: c.step, value: c.value,
    options: c.tagName === 'SELECT' ? Array.from(c.options).map(o => o.value) : []}));
}
"""

# Set control k of explorer i to a different value and fire the events a user's change fires.
JS_CHANGE = """
([i, k]) => {
  const el = document.querySelectorAll('[data-explorer]')[i];
  const c = el.querySelectorAll('.vt-controls input, .vt-controls select')[k];
  if (c.type === 'checkbox') { c.click(); return c.checked; }
  if (c.tagName === 'SELECT') {
    c.selectedIndex = (c.selectedIndex + Math.max(1, Math.floor(c.options.length / 2))) % c.options.length;
  } else {
    const min = Number(c.min), max = Number(c.max), v = Number(c.value);
    const step = c.step === 'any' ? (max - min) / 10 : Number(c.step || 1);
    let target = v + Math.max(step, Math.round((max - min) / 3 / step) * step);
    if (target > max) target = v - Math.max(step, Math.round((max - min) / 3 / step) * step);
    c.value = String(target);
  }
  c.dispatchEvent(new Event('input', {bubbles: true}));
  c.dispatchEvent(new Event('change', {bubbles: true}));
  return c.value;
}
"""

JS_FIRST_PICTURE = """
(i) => { const el = document.querySelectorAll('[data-explorer]')[i];
         return el.dataset.failed ? 'failed: ' + el.dataset.failed : (el.dataset.firstPicture || null); }
"""

JS_TIMING = """
(i) => {
  const el = document.querySelectorAll('[data-explorer]')[i];
  const nav = performance.getEntriesByType('navigation')[0];
  return {first: Number(el.dataset.firstPicture), dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          interactive: nav.domInteractive};
}
"""


def drive(page, timeout_ms: int = 10_000) -> list[dict]:
    """Operate every explorer on ``page``; one report per explorer (name, controls, unchanged, timing)."""
    names = page.evaluate(JS_ROOTS)
    reports = []
    for i, name in enumerate(names):
        page.wait_for_function(JS_FIRST_PICTURE, arg=i, timeout=timeout_ms)
        first = page.evaluate(JS_FIRST_PICTURE, i)
        report = {"name": name, "controls": [], "unchanged": [], "failed": None, "timing": None}
        if str(first).startswith("failed"):
            report["failed"] = first
            reports.append(report)
            continue
        report["timing"] = page.evaluate(JS_TIMING, i)
        root = page.locator("[data-explorer]").nth(i)
        root.scroll_into_view_if_needed()
        for control in page.evaluate(JS_CONTROLS, i):
            before = page.evaluate(JS_SNAPSHOT, i)
            page.evaluate(JS_CHANGE, [i, control["k"]])
            page.wait_for_timeout(30)
            what = f"{control['tag']}[{control['type']}] {control['label']!r}"
            report["controls"].append(what)
            if page.evaluate(JS_SNAPSHOT, i) == before:
                report["unchanged"].append(what)
        clickable = root.locator("canvas.vt-clickable")
        for c in range(clickable.count()):
            canvas = clickable.nth(c)
            box = canvas.bounding_box()
            if box is None or box["width"] == 0:
                report["unchanged"].append(f"canvas {c} (not visible)")
                continue
            before = page.evaluate(JS_SNAPSHOT, i)
            canvas.click(position={"x": box["width"] * 0.21, "y": box["height"] * 0.33})
            if canvas.get_attribute("data-wheel") == "1":
                canvas.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.3})
                page.mouse.wheel(0, -120)
            page.wait_for_timeout(30)
            report["controls"].append(f"click on canvas {c}")
            if page.evaluate(JS_SNAPSHOT, i) == before:
                report["unchanged"].append(f"click on canvas {c}")
        reports.append(report)
    return reports


def drive_keyboard(page) -> list[str]:
    """Operate every control from the keyboard (Tab focus + arrow keys); returns the controls
    whose key press did not change the drawing."""
    unchanged = []
    names = page.evaluate(JS_ROOTS)
    for i, name in enumerate(names):
        controls = page.locator("[data-explorer]").nth(i).locator(".vt-controls input, .vt-controls select")
        for k in range(controls.count()):
            control = controls.nth(k)
            if control.is_disabled():
                continue
            kind = control.evaluate("c => c.type")
            before = page.evaluate(JS_SNAPSHOT, i)
            control.focus()
            if kind == "checkbox":
                page.keyboard.press("Space")
            else:  # a range steps, a select moves to its next option (at the end: back one)
                at_end = control.evaluate(
                    "c => c.tagName === 'SELECT' ? c.selectedIndex === c.options.length - 1 : Number(c.value) >= Number(c.max)")
                page.keyboard.press("ArrowLeft" if at_end and kind == "range" else "ArrowUp" if at_end else
                                    "ArrowRight" if kind == "range" else "ArrowDown")
            page.wait_for_timeout(30)
            if page.evaluate(JS_SNAPSHOT, i) == before:
                unchanged.append(f"{name}: control {k} ({kind})")
    return unchanged


def block_network(context) -> list[str]:
    """Abort every request of a Playwright ``context`` that leaves loopback (data:, blob: and file:
    URLs stay local); returns the list the aborted URLs are added to."""
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if urlparse(url).hostname in ("127.0.0.1", "localhost") or url.startswith(("data:", "blob:", "file:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort("internetdisconnected")

    context.route("**/*", route)
    return blocked
