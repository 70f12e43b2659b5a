// « Autour de moi » : fills the hidden lat/lon fields of the search form with the
// browser's position and submits it. Without JavaScript the form works by text.
(function () {
  var button = document.getElementById('autour-de-moi');
  if (!button || !('geolocation' in navigator)) return;
  button.hidden = false;
  button.addEventListener('click', function () {
    var status = document.getElementById('autour-de-moi-etat');
    status.textContent = 'Recherche de votre position…';
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById('lat').value = pos.coords.latitude.toFixed(5);
      document.getElementById('lon').value = pos.coords.longitude.toFixed(5);
      button.form.submit();
    }, function () {
      status.textContent = 'Votre position n’a pas pu être obtenue : saisissez une commune ou un code postal.';
    }, { timeout: 10000, maximumAge: 600000 });
  });
})();
