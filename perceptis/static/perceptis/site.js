/* Small helps for every page; each page works without JavaScript. */
(function () {
  "use strict";
  /* On a phone a "cards" table shows each cell under its column's name: give every cell
     without its own data-label the name of its header. */
  document.querySelectorAll("table.cards").forEach(function (table) {
    if (!table.tHead || !table.tHead.rows.length) { return; }
    var names = Array.prototype.map.call(table.tHead.rows[0].cells, function (cell) {
      return cell.textContent.trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, i) {
          if (!cell.hasAttribute("data-label") && names[i]) { cell.setAttribute("data-label", names[i]); }
        });
      });
    });
  });
})();
