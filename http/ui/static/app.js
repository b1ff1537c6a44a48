// The pages work without this script. With it: times show in the browser's zone (UTC
// on hover), pages marked live refresh in place every few seconds, copy fields select
// themselves, and a pause's end is read in the browser's zone.
(function () {
  "use strict";
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      t.title = t.getAttribute("datetime").replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
      // The year only when it is not this one: shorter cells on a phone.
      var shown = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
      if (d.getFullYear() !== new Date().getFullYear()) shown.year = "numeric";
      t.textContent = d.toLocaleString(undefined, shown);
    });
  }
  function wire(root) {
    localize(root);
    root.querySelectorAll("label.copy input").forEach(function (i) { i.addEventListener("focus", function () { i.select(); }); });
    // A datetime-local field has no zone: send the moment the browser means, in UTC.
    root.querySelectorAll("input[type=datetime-local][data-local]").forEach(function (i) {
      i.form.addEventListener("submit", function () {
        if (!i.value) return;
        var d = new Date(i.value);
        if (isNaN(d)) return;
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = i.name; hidden.value = d.toISOString().replace(/\.\d+Z$/, "Z");
        i.name = ""; i.form.appendChild(hidden);
      });
    });
  }
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT") ||
      document.querySelector("details[open]") !== null;
  }
  function refresh(main, seconds) {
    setTimeout(function () {
      if (document.hidden || busy()) { refresh(main, seconds); return; }
      fetch(location.href, { credentials: "same-origin", headers: { "X-Coal-Mine-Refresh": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html) {
            var next = new DOMParser().parseFromString(html, "text/html").getElementById("live");
            if (next) { main.innerHTML = next.innerHTML; wire(main); }
          }
        })
        .catch(function () {})
        .then(function () { refresh(main, seconds); });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    var main = document.getElementById("live");
    if (main && main.dataset.live) refresh(main, Number(main.dataset.live));
  });
})();
