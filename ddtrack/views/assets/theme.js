/* Keep the views' colour mode in step with Airflow's (the parent page toggles a "dark" class). */
(function () {
  function apply() {
    var dark = false;
    try {
      dark = window.parent !== window && window.parent.document.documentElement.classList.contains("dark");
      if (!dark && window.parent === window) {
        var t = localStorage.getItem("theme");
        dark = t === "dark" || (t !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
      }
    } catch (e) { /* a parent on another origin: keep what we have */ }
    var root = document.documentElement;
    root.setAttribute("data-theme", dark ? "dark" : "light");
    try {
      // Airflow's own background and font, so the iframe blends into the page around it.
      var body = window.parent !== window ? window.parent.getComputedStyle(window.parent.document.body) : null;
      if (body && body.backgroundColor && body.backgroundColor !== "rgba(0, 0, 0, 0)") {
        root.style.setProperty("--dd-bg", body.backgroundColor);
        root.style.setProperty("--dd-panel", body.backgroundColor);
      }
      if (body && body.fontFamily) { document.body && (document.body.style.fontFamily = body.fontFamily); }
    } catch (e) {}
  }
  apply();
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true, attributeFilter: ["class", "style", "data-theme"] });
    }
  } catch (e) {}
  window.addEventListener("storage", apply);
})();
