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
  var pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(reachable, 150);
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', reachable);
  else reachable();
})();
