/* The version switcher in every page's footer (its markup comes from book/_ext/release.py).
 *
 * The list of published versions is the site's switcher.json (tools/release.py writes it beside
 * latest/ and v0.2/). It is asked for only when the page is read from the published site: a copy
 * opened from disk (file://) or from a local server makes no request and logs nothing, and its
 * footer still names its own version.
 */
(function () {
  "use strict";

  function start() {
    var box = document.querySelector(".vt-versions[data-site-root]");
    if (!box || !window.fetch) return;
    var root = box.getAttribute("data-site-root");
    var here = box.getAttribute("data-version");
    var page = box.getAttribute("data-page") || "";
    if (!root || window.location.href.indexOf(root) !== 0) return; // not on the published site
    var select = box.querySelector("select");
    var options = {};
    if (window.AbortController) {
      var controller = new AbortController();
      setTimeout(function () { controller.abort(); }, 10000);
      options.signal = controller.signal;
    }
    fetch(root + "switcher.json", options)
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (versions) {
        if (!Array.isArray(versions) || versions.length < 2) return;
        select.textContent = "";
        versions.forEach(function (entry) {
          if (!entry || typeof entry.url !== "string" || entry.url.indexOf(root) !== 0) return;
          var option = document.createElement("option");
          option.value = entry.url;
          option.textContent = entry.name || entry.version;
          option.selected = entry.version === here;
          select.appendChild(option);
        });
        select.addEventListener("change", function () {
          var start = select.value;
          var target = start + page;
          // the same page in the other version, or that version's first page when it has no such page
          // (read to its end before leaving, so the request finishes rather than being cut off by the navigation)
          fetch(target, { method: "HEAD" })
            .then(function (response) { return response.arrayBuffer().then(function () { return response.ok; }); })
            .then(function (found) { window.location.href = found ? target : start; })
            .catch(function () { window.location.href = start; });
        });
        box.hidden = false;
      })
      .catch(function () { /* no list, no switcher: the footer still names this version */ });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
