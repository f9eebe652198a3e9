/* Wide figures, formulas and code listings scroll sideways inside their own box on a narrow
   screen; this marks such a box while there is more to see on a side, and book.css fades that
   edge ("Figures, formulas and code on a narrow screen"). It also keeps every figure at least as
   wide as a 1280 px window shows it, so its text stays as large as tests/test_built_book.py
   measured it there (9 px or more); a narrower screen scrolls the figure instead of shrinking it.
   A classic script, so it runs from file:// too. */
(function () {
  "use strict";
  var COLUMN_PX = 672; // the content column at a 1280 px window: vit_tutorial/viz_fonts.py COLUMN_PX

  function hint(box) {
    var hidden = box.scrollWidth - box.clientWidth;
    box.classList.toggle("vt-more-left", hidden > 1 && box.scrollLeft > 1);
    box.classList.toggle("vt-more-right", hidden > 1 && box.scrollLeft < hidden - 1);
  }

  function watch(box) {
    if (box.hasAttribute("data-vt-scroll")) return;
    box.setAttribute("data-vt-scroll", "");
    box.addEventListener("scroll", function () { hint(box); }, { passive: true });
    hint(box);
  }

  function wrapFigures() {
    document.querySelectorAll("main div.cell_output img").forEach(function (img) {
      if (img.closest(".vt-scroll, [data-explorer]")) return; // explorers draw their own pictures
      // a figure and its copy for the dark theme (book_figures.py) scroll as one box
      var figure = img.closest(".vt-themed-figure") || img;
      var box = document.createElement("div");
      box.className = "vt-scroll";
      figure.parentNode.insertBefore(box, figure);
      box.appendChild(figure);
      box.querySelectorAll("img").forEach(function (each) {
        var size = function () {
          if (each.naturalWidth) each.style.minWidth = Math.min(each.naturalWidth, COLUMN_PX) + "px";
          hint(box);
        };
        if (each.complete) size(); else each.addEventListener("load", size);
      });
      watch(box);
    });
  }

  function update() {
    wrapFigures();
    document.querySelectorAll("main div.math, main div.highlight pre").forEach(watch);
    document.querySelectorAll("[data-vt-scroll]").forEach(hint);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", update);
  else update();
  window.addEventListener("load", function () {
    update();
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(update); // formulas take their width late
  });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-vt-scroll]").forEach(hint);
  });
})();
