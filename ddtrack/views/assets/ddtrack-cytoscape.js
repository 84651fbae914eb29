/* Clicks on a Cytoscape graph land where the graph is now.
 *
 * Cytoscape caches where its container sits on the page and drops that cache only on a
 * window resize or scroll. Content above a graph can change after the graph is drawn (the
 * DAG page's badges filled in by their callback, the lineage note rewritten by a redraw),
 * which moves the graph without either event: a click was then placed beside the node it
 * hit and selected nothing. Before Cytoscape handles a press or release on a graph (this
 * listener runs first, in the capture phase), the cache is dropped.
 */
(function () {
  function forget(event) {
    for (let el = event.target; el && el !== document; el = el.parentNode) {
      const cy = el._cyreg && el._cyreg.cy;
      if (cy) {
        const renderer = cy.renderer();
        if (renderer && renderer.invalidateContainerClientCoordsCache) {
          renderer.invalidateContainerClientCoordsCache();
        }
        return;
      }
    }
  }
  for (const type of ["mousedown", "mouseup", "touchstart", "touchend"]) {
    window.addEventListener(type, forget, { capture: true, passive: true });
  }
})();
