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
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
  }
  apply();
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true, attributeFilter: ["class", "style", "data-theme"] });
    }
  } catch (e) {}
  window.addEventListener("storage", apply);
})();
