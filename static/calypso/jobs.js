// Live job progress over the /ws/jobs/ WebSocket (session-authenticated), and the dashboard health.
(function () {
  "use strict";
  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path; }

  function applyEvent(ev) {
    document.querySelectorAll('.calypso-progress[data-job-id="' + ev.job + '"]').forEach(function (el) {
      if (ev.progress !== undefined) {
        el.querySelector(".bar").style.width = ev.progress + "%";
        el.querySelector(".label").textContent = ev.progress + "%";
      }
      if (ev.state) { el.dataset.state = ev.state; }
    });
    if (ev.step !== undefined) {
      document.querySelectorAll('.calypso-step[data-job-id="' + ev.job + '"]').forEach(function (el) { el.textContent = ev.step; });
    }
    if (ev.state) {
      document.querySelectorAll('[data-job-state="' + ev.job + '"]').forEach(function (el) { el.textContent = ev.state; });
    }
    var log = document.getElementById("calypso-log");
    if (log && ev.event === "log") {
      var line = document.createElement("span");
      line.className = "lvl-" + ev.level;
      line.textContent = ev.time.substr(11, 8) + " " + ev.level.toUpperCase() + " " + ev.message + "\n";
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
    }
  }

  function connect(path) {
    var ws = new WebSocket(wsUrl(path));
    ws.onmessage = function (m) { applyEvent(JSON.parse(m.data)); };
    ws.onclose = function (e) { if (e.code < 4000) { setTimeout(function () { connect(path); }, 3000); } };
  }

  function health() {
    var card = document.getElementById("calypso-health");
    if (!card) { return; }
    fetch(card.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      var rows = document.getElementById("calypso-health-rows");
      rows.innerHTML = "";
      Object.keys(d.components || {}).forEach(function (name) {
        var c = d.components[name], tr = document.createElement("tr");
        var detail = c.error || (c.workers ? c.workers.join(", ") : (c.version || c.vendor || ""));
        [name, c.status, detail].forEach(function (t, i) {
          var td = document.createElement("td"); td.textContent = t;
          if (i === 1) { td.className = "health-" + c.status; }
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
      var tools = d.tools || [], missing = tools.filter(function (t) { return !t.installed; });
      document.getElementById("calypso-tools-summary").textContent =
        (tools.length - missing.length) + "/" + tools.length + " host tools installed" +
        (missing.length ? "; missing: " + missing.map(function (t) { return t.name + " (" + t.install_hint + ")"; }).join(", ") : "");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var one = document.querySelector("[data-live-job]");
    if (one) { connect("/ws/jobs/" + one.dataset.liveJob + "/"); }
    else if (document.querySelector("[data-live-jobs]")) { connect("/ws/jobs/"); }
    health();
  });
})();
