// The counter form (progressive enhancement): choosing another place lists the services that
// this place offers, so that the form never sends a service the place does not offer. Without
// this script the page lists the services of the place chosen when it was shown.
(function () {
  'use strict';
  var lieu = document.getElementById('lieu');
  var service = document.getElementById('service');
  if (!lieu || !service || lieu.tagName !== 'SELECT') return;
  lieu.addEventListener('change', function () {
    var option = lieu.options[lieu.selectedIndex];
    var offered = (option && option.getAttribute('data-services') || '').split('|').filter(Boolean);
    if (offered.length === 0) return;
    var kept = service.value;
    while (service.firstChild) service.removeChild(service.firstChild);
    offered.forEach(function (label) {
      var o = document.createElement('option');
      o.value = label;
      o.textContent = label;
      if (label === kept) o.selected = true;
      service.appendChild(o);
    });
  });
})();
