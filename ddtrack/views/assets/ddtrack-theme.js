// AG Grid's themes follow data-ag-theme-mode; ddtrack's colours follow data-theme, which the
// page sets from Airflow's colour mode before the first paint.
(function () {
  var root = document.documentElement;
  root.setAttribute("data-ag-theme-mode", root.getAttribute("data-theme") === "dark" ? "dark" : "light");
})();
