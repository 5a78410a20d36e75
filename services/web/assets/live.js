// Keeps the live part of a page ([data-live]) current: asks for the page again every few
// seconds with If-None-Match; a 304 changes nothing, a 200 swaps the part in place.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) return;
  var etag = live.getAttribute("data-etag");
  var interval = parseInt(live.getAttribute("data-interval"), 10) || 3000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, {
      headers: { "If-None-Match": etag, "Accept": "text/html" },
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status !== 200) return null;
      etag = response.headers.get("ETag") || etag;
      return response.text();
    }).then(function (text) {
      if (!text) return;
      var doc = new DOMParser().parseFromString(text, "text/html");
      var fresh = doc.querySelector("[data-live]");
      if (fresh) {
        live.innerHTML = fresh.innerHTML;
        live.setAttribute("data-etag", etag);
        live.setAttribute("data-refreshed", String(Date.now()));
      }
    }).catch(function () {
      // The server is away for a moment: the next tick tries again.
    }).then(function () {
      busy = false;
    });
  }
  window.setInterval(refresh, interval);
})();

// A form is sent once: its button is disabled after the first click. The server also
// recognises a second copy by the form's idempotency key.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.getAttribute("data-sent")) {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-sent", "1");
});
