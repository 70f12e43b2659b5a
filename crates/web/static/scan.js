// « Scanner le QR code » on the counter page: reads the cheque's QR code with
// the camera when the browser can (BarcodeDetector) and fills the code field.
// Typing the code always works; nothing is sent until the form is submitted.
(function () {
  var button = document.getElementById('scanner');
  var input = document.getElementById('code');
  var video = document.getElementById('scanner-video');
  var status = document.getElementById('scanner-etat');
  if (!button || !input || !video || !('BarcodeDetector' in window) || !navigator.mediaDevices) return;
  button.hidden = false;
  button.addEventListener('click', function () {
    var detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }).then(function (stream) {
      var done = false;
      var stop = function () {
        done = true;
        stream.getTracks().forEach(function (t) { t.stop(); });
        video.hidden = true;
      };
      video.hidden = false;
      video.srcObject = stream;
      video.play();
      status.textContent = 'Visez le QR code du chèque.';
      var tick = function () {
        if (done) return;
        detector.detect(video).then(function (found) {
          var code = found
            .map(function (c) { var m = /\/c\/([0-9A-Za-z]+)$/.exec(c.rawValue || ''); return m && m[1]; })
            .filter(Boolean)[0];
          if (code) {
            input.value = code;
            stop();
            status.textContent = 'Code lu : vérifiez le service, puis encaissez.';
            input.focus();
          } else {
            window.requestAnimationFrame(tick);
          }
        }).catch(function () { window.requestAnimationFrame(tick); });
      };
      tick();
    }).catch(function () {
      status.textContent = 'La caméra n’est pas disponible : saisissez le code.';
    });
  });
})();
