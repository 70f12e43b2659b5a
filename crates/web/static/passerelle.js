// Passerelle's script on every page (progressive enhancement; every page works without it).
//
// A table wider than the screen scrolls within itself (a phone, a long e-mail address): it is
// then made reachable with the keyboard, so that arrow keys scroll it, and named after its
// caption for screen readers (RGAA 7.3, WCAG 2.1.1).
(function () {
  'use strict';
  function reachable() {
    document.querySelectorAll('.fr-table > table').forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute('tabindex')) {
        table.setAttribute('tabindex', '0');
        table.setAttribute('data-defilement', '');
      } else if (!scrolls && table.hasAttribute('data-defilement')) {
        table.removeAttribute('tabindex');
        table.removeAttribute('data-defilement');
      }
    });
  }
  // A list whose rows carry actions (`.fr-table.passerelle-cartes`) becomes one card per row
  // on a narrow screen, each value after its column's name, so that no action sits outside
  // the screen in a table that scrolls sideways (the style is in passerelle.css).
  function cards() {
    document.querySelectorAll('.fr-table.passerelle-cartes').forEach(function (box) {
      var heads = Array.prototype.map.call(box.querySelectorAll('thead th'), function (th) {
        return th.textContent.trim();
      });
      box.querySelectorAll('tbody tr, tfoot tr').forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (cell, i) {
          if (heads[i] && !cell.hasAttribute('data-label')) cell.setAttribute('data-label', heads[i]);
        });
      });
      box.setAttribute('data-cartes', '');
    });
  }
  var pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(reachable, 150);
  });
  function ready() {
    cards();
    reachable();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
