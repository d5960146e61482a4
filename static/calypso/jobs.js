// Live job progress over the /ws/jobs/ WebSocket (session-authenticated), and the dashboard health.
//
// Frames: one event ({"type": "job.event", "event": "progress"|"state"|"log"|"snapshot"|"resync", "job": id})
// or a batch ({"type": "batch", "events": [...]}). "resync" means events were skipped: the page fetches the
// job (or, with "job": null, every job it shows) from the API and redraws. A job the page does not show yet
// (started after the page loaded) is fetched and added to the dashboard's list.
(function () {
  "use strict";
  var TERMINAL = ["succeeded", "failed", "cancelled", "rolled_back"];
  var STATE_LABELS = {queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed",
                      cancelled: "Cancelled", rolled_back: "Rolled back"};
  var STATE_COLORS = {queued: "#6c757d", running: "#1f5fa8", succeeded: "#1e7e34", failed: "#b02a37",
                      cancelled: "#c56a00", rolling_back: "#c56a00", rolled_back: "#c56a00"};
  var MAX_ROWS = 15;
  var fetching = {};

  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path; }
  function each(selector, fn) { document.querySelectorAll(selector).forEach(fn); }
  function fmtTime(iso) { return iso ? iso.replace("T", " ").substr(0, 19) : ""; }

  function setProgress(job, progress, state) {
    each('.calypso-progress[data-job-id="' + job + '"]', function (el) {
      if (progress !== undefined && progress !== null) {
        el.querySelector(".bar").style.width = progress + "%";
        el.querySelector(".label").textContent = progress + "%";
      }
      if (state) { el.dataset.state = state; }
    });
  }

  function applyEvent(ev) {
    if (ev.type === "batch") { (ev.events || []).forEach(applyEvent); return; }
    if (ev.event === "resync") { resync(ev.job); return; }
    if (ev.job === undefined || ev.job === null) { return; }
    if (!document.querySelector('[data-job-id="' + ev.job + '"]')) { addJob(ev.job); }
    setProgress(ev.job, ev.progress, ev.state);
    if (ev.step !== undefined) {
      each('.calypso-step[data-job-id="' + ev.job + '"]', function (el) { el.textContent = ev.step; });
    }
    if (ev.state) {
      each('[data-job-state="' + ev.job + '"]', function (el) { el.textContent = STATE_LABELS[ev.state] || ev.state; });
      if (TERMINAL.indexOf(ev.state) >= 0) { refresh(ev.job); }
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

  function getJob(id) {
    return fetch("/api/v1/jobs/" + id + "/", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  // The job page: state, finished time, result and error as the API has them now.
  function showJobFields(job) {
    setProgress(job.id, job.progress, job.state);
    each('[data-job-state="' + job.id + '"]', function (el) { el.textContent = STATE_LABELS[job.state] || job.state; });
    each(".field-state_badge .calypso-badge", function (el) {
      el.textContent = STATE_LABELS[job.state] || job.state;
      el.style.background = STATE_COLORS[job.state] || "#6c757d";
    });
    var empty = function (v) { return v === null || v === undefined || v === "" ||
                                      (typeof v === "object" && Object.keys(v).length === 0); };
    var fields = {started: fmtTime(job.started), finished: fmtTime(job.finished), error: job.error,
                  heartbeat: fmtTime(job.heartbeat), result_json: empty(job.result) ? "" : JSON.stringify(job.result, null, 2)};
    Object.keys(fields).forEach(function (name) {
      each(".field-" + name + " .readonly", function (el) {
        var value = fields[name];
        if (name === "result_json" && !empty(value)) {
          el.innerHTML = '<pre class="calypso-json"></pre>';
          el.firstChild.textContent = value;
        } else {
          el.textContent = empty(value) ? "-" : String(value);
        }
      });
    });
    if (TERMINAL.indexOf(job.state) >= 0) {  // nothing left to cancel
      each('a[data-operation="cancel"]', function (el) { (el.closest("li") || el).remove(); });
    }
  }

  function refresh(id) {
    getJob(id).then(function (job) {
      if (!job) { return; }
      if (document.querySelector('[data-live-job="' + id + '"]')) { showJobFields(job); }
      else { setProgress(job.id, job.progress, job.state); }
      storageScan(job);
    });
  }

  function resync(id) {
    if (id !== undefined && id !== null) { refresh(id); return; }
    var seen = {};
    each("[data-job-id]", function (el) { seen[el.dataset.jobId] = true; });
    Object.keys(seen).forEach(refresh);
  }

  // A job started after the page loaded: a new first row in the dashboard's job list.
  function addJob(id) {
    var table = document.querySelector("table.calypso-jobs[data-live-jobs] tbody");
    if (!table || fetching[id]) { return; }
    fetching[id] = true;
    getJob(id).then(function (job) {
      if (!job || document.querySelector('[data-job-id="' + id + '"]')) { return; }
      var empty = table.querySelector("td[colspan]");
      if (empty) { empty.parentNode.remove(); }
      var tr = document.createElement("tr");
      tr.className = "calypso-new";
      var num = document.createElement("td"), a = document.createElement("a");
      a.href = "/admin/jobs/job/" + job.id + "/change/"; a.textContent = job.id; num.appendChild(a);
      var what = document.createElement("td"); what.textContent = job.kind + " " + (job.target_label || "");
      var state = document.createElement("td"), span = document.createElement("span");
      span.dataset.jobState = job.id; span.textContent = STATE_LABELS[job.state] || job.state; state.appendChild(span);
      var prog = document.createElement("td");
      prog.innerHTML = '<div class="calypso-progress"><div class="bar"></div><span class="label"></span></div>' +
                       '<div class="calypso-step"></div>';
      prog.querySelector(".calypso-progress").dataset.jobId = job.id;
      prog.querySelector(".calypso-step").dataset.jobId = job.id;
      prog.querySelector(".calypso-step").textContent = job.step || "";
      var created = document.createElement("td"); created.textContent = fmtTime(job.created);
      [num, what, state, prog, created].forEach(function (td) { tr.appendChild(td); });
      table.insertBefore(tr, table.firstChild);
      while (table.rows.length > MAX_ROWS) { table.deleteRow(table.rows.length - 1); }
      setProgress(job.id, job.progress, job.state);
      storageScan(job);
    }).finally(function () { delete fetching[id]; });
  }

  // The storage card: a scrub or resilver job of a pool it shows gets a live bar in that pool's row.
  function storageScan(job) {
    if (job.target_type !== "storage.pool" || !/scrub/.test(job.kind)) { return; }
    each('[data-pool-scan="' + job.target_id + '"]', function (cell) {
      if (TERMINAL.indexOf(job.state) >= 0) { cell.textContent = job.kind.split(".").pop() + " " + (STATE_LABELS[job.state] || job.state).toLowerCase(); return; }
      if (cell.querySelector('[data-job-id="' + job.id + '"]')) { return; }
      cell.innerHTML = '<div class="calypso-progress"><div class="bar"></div><span class="label"></span></div>';
      cell.querySelector(".calypso-progress").dataset.jobId = job.id;
      setProgress(job.id, job.progress, job.state);
    });
  }

  function connect(path) {
    var ws = new WebSocket(wsUrl(path));
    var opened = false;
    ws.onopen = function () { if (opened) { resync(null); } opened = true; };
    ws.onmessage = function (m) { applyEvent(JSON.parse(m.data)); };
    ws.onclose = function (e) {
      if (e.code < 4000) { setTimeout(function () { connect(path); resync(null); }, 3000); }
    };
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
