// Metric charts drawn with uPlot (static/vendor/uplot), no build step.
//
// A chart: <div class="calypso-chart" data-metrics="host.net_rx_bps,host.net_tx_bps" data-subject="" data-range="24h">
// is filled from GET /api/v1/monitoring/series/chart/ (one line per series, a light min/max band when a chart
// has few lines). A sparkline: <div class="calypso-spark" data-source="<json_script id>" data-series="<ids>" ...>
// draws the points embedded in the page, without axes. The buttons .calypso-range[data-range] switch every
// chart's range; a select[data-subject-group] switches the subject of the charts of that group.
// Live: one WebSocket per page on /ws/jobs/; each "metrics" event fetches what is newer than each chart's last
// point (since=) and appends it, dropping what fell out of the range. The socket reconnects with back-off.
// After drawing, a chart's element carries data-points (how many points it shows) and data-last-time.
(function () {
  "use strict";
  var API = "/api/v1/monitoring/series/chart/";
  var RANGES = {"1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000, "90d": 7776000,
                "1y": 31536000, "2y": 63072000};
  var COLORS = ["#1f5fa8", "#c56a00", "#1e7e34", "#b02a37", "#6f42c1", "#138496", "#6c757d", "#d63384"];
  var BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  var BYTE_INCRS = [];
  var MAX_BANDS = 3;  // more lines than this: no min/max band (too busy)
  var charts = [];
  var retry = 1000, opened = false, pending = false;

  (function () {
    for (var p = 0; p < BINARY.length; p++) {
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (m) { BYTE_INCRS.push(m * Math.pow(1024, p)); });
    }
  })();

  function isBytes(unit) { return unit === "bytes" || unit === "B/s"; }

  // A value with its unit, as the legend and the sparkline values show it.
  function fmt(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) { return "–"; }
    if (isBytes(unit)) {
      var i = 0, v = value;
      while (Math.abs(v) >= 1024 && i < BINARY.length - 1) { v /= 1024; i++; }
      var text = (i === 0 || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + BINARY[i];
      return unit === "B/s" ? text + "/s" : text;
    }
    var n = Math.abs(value) >= 100 || value === Math.round(value) ? value.toFixed(0) : value.toFixed(Math.abs(value) < 10 ? 2 : 1);
    return unit ? n + " " + unit : n;
  }

  // An axis tick: short, no trailing zeros.
  function tick(value, unit) {
    if (value === null || value === undefined) { return ""; }
    if (isBytes(unit)) { return fmt(value, unit).replace(".0 ", " "); }
    var n = String(+value.toPrecision(6));
    return unit && unit !== "ops/s" ? n + " " + unit : n;
  }

  // The time axis in 24-hour local time: [tick spacing, label, then the line below when the year, month,
  // day, hour, minute or second changes, mode] as uPlot's axis values table reads it.
  var TIME_AXIS = [
    [31536000, "{YYYY}", null, null, null, null, null, null, 1],
    [2419200, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [86400, "{D} {MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [3600, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
    [60, "{HH}:{mm}", "\n{D} {MMM} {YYYY}", null, "\n{D} {MMM}", null, null, null, 1],
    [1, ":{ss}", "\n{D} {MMM} {YYYY} {HH}:{mm}", null, "\n{D} {MMM} {HH}:{mm}", null, "\n{HH}:{mm}", null, 1]
  ];
  var stamp = null;

  function when(epoch) {
    stamp = stamp || uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
    return stamp(new Date(epoch * 1000));
  }

  // The legend: the value under the cursor, else the latest one.
  function latest(u, si) {
    var ys = u.data[si];
    for (var i = ys.length - 1; i >= 0; i--) { if (ys[i] !== null && ys[i] !== undefined) { return ys[i]; } }
    return null;
  }

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function lastTime(series) {
    var last = null;
    series.forEach(function (s) {
      if (s.points.length) {
        var t = s.points[s.points.length - 1][0];
        last = last === null ? t : Math.min(last, t);
      }
    });
    return last;
  }

  function countPoints(c) { return c.series.reduce(function (n, s) { return n + s.points.length; }, 0); }

  // ------------------------------------------------------------ data
  function table(s, gap, withBand) {
    var xs = [], avg = [], lo = [], hi = [], prev = null;
    s.points.forEach(function (p) {
      if (prev !== null && p[0] - prev > gap) {  // the collector did not run: a gap, not a straight line
        xs.push(prev + 1); avg.push(null); lo.push(null); hi.push(null);
      }
      xs.push(p[0]); avg.push(p[1]); lo.push(p[2]); hi.push(p[3]);
      prev = p[0];
    });
    return withBand ? [xs, avg, lo, hi] : [xs, avg];
  }

  function aligned(c, withBand) {
    var gap = 3 * Math.max(c.resolution || 0, c.rawStep);
    var joined = uPlot.join(c.series.map(function (s) { return table(s, gap, withBand); }));
    if (!withBand) { return joined; }
    // join() gives [xs, avg0, lo0, hi0, avg1, ...]; uPlot wants the lines first, then the bands' edges.
    var lines = [joined[0]], edges = [];
    for (var i = 0; i < c.series.length; i++) {
      lines.push(joined[1 + 3 * i]);
      edges.push(joined[2 + 3 * i], joined[3 + 3 * i]);
    }
    return lines.concat(edges);
  }

  // ------------------------------------------------------------ drawing
  function label(c, s) {
    var subjects = {};
    c.series.forEach(function (x) { subjects[x.subject] = true; });
    return Object.keys(subjects).length > 1 && s.subject ? s.label + " " + s.subject : s.label;
  }

  function yRange(unit) {
    return function (u, min, max) {
      if (min === null || max === null) { return [0, 1]; }
      if (unit === "°C") { var pad = Math.max(2, (max - min) * 0.15); return [Math.floor(min - pad), Math.ceil(max + pad)]; }
      var top = max > 0 ? max * 1.1 : 1;
      if (unit === "%" && max <= 100) { top = Math.min(100, Math.max(top, 5)); }
      return [Math.min(0, min), top];
    };
  }

  function axisSize(u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1) { return axis._size; }
    var size = axis.ticks.size + axis.gap;
    var longest = (values || []).reduce(function (a, v) { return v && v.length > a.length ? v : a; }, "");
    if (longest) { u.ctx.font = axis.font[0]; size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1); }
    return Math.ceil(size);
  }

  function options(c, withBand) {
    var unit = c.series[0].unit, fg = cssVar("--body-quiet-color", "#666"), grid = cssVar("--hairline-color", "#e8e8e8");
    var range = function () { return [c.start, c.end]; };
    if (c.spark) {
      return {width: c.width, height: c.height, legend: {show: false}, cursor: {show: false}, select: {show: false},
              axes: [{show: false}, {show: false}], scales: {x: {time: true, range: range}, y: {range: yRange(unit)}},
              series: [{}].concat(c.series.map(function (s, i) {
                var color = COLORS[i % COLORS.length];
                return {stroke: color, width: 1.5, fill: c.series.length === 1 ? alpha(color, 0.12) : undefined,
                        points: {show: false}};
              }))};
    }
    var series = [{value: function (u, v) { return v === null || v === undefined ? "latest" : when(v); }}];
    var bands = [], n = c.series.length;
    c.series.forEach(function (s, i) {
      series.push({label: label(c, s), stroke: COLORS[i % COLORS.length], width: 1.5, points: {show: false},
                   value: function (u, v, si, idx) { return fmt(idx === null || idx === undefined ? latest(u, si) : v, unit); }});
    });
    if (withBand) {
      c.series.forEach(function (s, i) {
        var edge = {stroke: "transparent", points: {show: false}, value: function () { return ""; }};
        series.push(Object.assign({label: "min"}, edge), Object.assign({label: "max"}, edge));
        bands.push({series: [n + 2 + 2 * i, n + 1 + 2 * i], fill: alpha(COLORS[i % COLORS.length], 0.12)});
      });
    }
    var axis = {stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
    return {width: c.width, height: c.height, series: series, bands: bands,
            cursor: {drag: {x: false, y: false}, points: {show: false}},
            scales: {x: {time: true, range: range}, y: {range: yRange(unit)}},
            axes: [Object.assign({values: TIME_AXIS}, axis), Object.assign({}, axis, {size: axisSize, incrs: isBytes(unit) ? BYTE_INCRS : undefined,
                                                  values: function (u, splits) {
                                                    return splits.map(function (v) { return tick(v, unit); });
                                                  }})]};
  }

  function empty(c) {
    if (c.plot) { c.plot.destroy(); c.plot = null; }
    var p = c.el.querySelector(".calypso-chart-empty");
    if (!p) {
      p = document.createElement("p");
      p.className = "calypso-chart-empty";
      p.textContent = c.el.dataset.empty || "No data yet";
      c.el.appendChild(p);
    }
  }

  function showValue(c) {
    var cell = c.el.closest("tr") && c.el.closest("tr").querySelector("[data-spark-value]");
    if (!cell || !c.series.length) { return; }
    var total = null;
    c.series.forEach(function (s) {
      if (s.points.length) { total = (total || 0) + s.points[s.points.length - 1][1]; }
    });
    if (total !== null) { cell.textContent = fmt(total, c.series[0].unit); }
  }

  function draw(c, rebuild) {
    var total = countPoints(c), newest = null;
    c.series.forEach(function (s) { if (s.points.length) { newest = Math.max(newest || 0, s.points[s.points.length - 1][0]); } });
    c.el.dataset.points = String(total);
    if (newest !== null) { c.el.dataset.lastTime = String(newest); }
    if (!total) { empty(c); return; }
    var old = c.el.querySelector(".calypso-chart-empty");
    if (old) { old.remove(); }
    var withBand = !c.spark && c.resolution > 0 && c.series.length <= MAX_BANDS;
    var shape = c.series.length + (withBand ? "b" : "");
    var data = aligned(c, withBand);
    if (c.plot && !rebuild && c.shape === shape) {
      c.plot.setData(data);
    } else {
      if (c.plot) { c.plot.destroy(); }
      c.width = c.spark ? (+c.el.dataset.width || 160) : Math.max(200, c.el.clientWidth);
      c.height = c.spark ? (+c.el.dataset.height || 40) : (+c.el.dataset.height || 220);
      c.plot = new uPlot(options(c, withBand), data, c.el);
      if (withBand) {  // the bands' edges are no lines of their own in the legend
        var rows = c.plot.root.querySelectorAll(".u-legend .u-series");
        for (var i = c.series.length + 1; i < rows.length; i++) { rows[i].style.display = "none"; }
      }
      c.shape = shape;
    }
    showValue(c);
  }

  // ------------------------------------------------------------ fetching
  function query(c, since) {
    var q = "metrics=" + encodeURIComponent(c.metrics) + "&subject=" + encodeURIComponent(c.subject) +
            "&range=" + encodeURIComponent(c.range);
    return API + "?" + q + (since !== null && since !== undefined ? "&since=" + since : "");
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  function accept(c, data) {
    c.start = data.start; c.end = data.end; c.resolution = data.resolution;
  }

  function load(c) {
    var seq = ++c.seq;
    c.el.setAttribute("aria-busy", "true");
    return getJSON(query(c)).then(function (data) {
      if (seq !== c.seq) { return; }  // a newer range was asked for meanwhile
      c.el.removeAttribute("aria-busy");
      if (!data) { if (!c.plot) { empty(c); } return; }
      accept(c, data);
      c.series = data.series;
      draw(c, true);
    });
  }

  // Append what is newer than each series' last point; drop what fell out of the range.
  function append(c, data) {
    data.series.forEach(function (fresh) {
      var mine = c.series.filter(function (s) { return s.id === fresh.id; })[0];
      if (!mine) { c.series.push(fresh); return; }
      var last = mine.points.length ? mine.points[mine.points.length - 1][0] : -Infinity;
      fresh.points.forEach(function (p) { if (p[0] > last) { mine.points.push(p); } });
    });
    c.start = data.start; c.end = data.end;
    c.series.forEach(function (s) {
      var drop = 0;
      while (drop < s.points.length && s.points[drop][0] < c.start) { drop++; }
      if (drop) { s.points.splice(0, drop); }
    });
    draw(c, false);
  }

  function refreshAll() {
    if (document.hidden) { pending = true; return; }
    var groups = {};
    charts.forEach(function (c) {
      if (c.seq && c.el.getAttribute("aria-busy")) { return; }  // a full load is under way
      var key = [c.metrics, c.subject, c.range].join("|");
      (groups[key] = groups[key] || []).push(c);
    });
    Object.keys(groups).forEach(function (key) {
      var group = groups[key], first = group[0];
      if (first.refreshing) { return; }
      var since = null;
      group.forEach(function (c) {
        var t = lastTime(c.series);
        if (t !== null) { since = since === null ? t : Math.min(since, t); }
      });
      group.forEach(function (c) { c.refreshing = true; });
      getJSON(query(first, since)).then(function (data) {
        group.forEach(function (c) {
          c.refreshing = false;
          if (!data || key !== [c.metrics, c.subject, c.range].join("|")) { return; }
          if (since === null) { accept(c, data); c.series = data.series.filter(function (s) { return want(c, s); }); draw(c, true); }
          else { append(c, {start: data.start, end: data.end, series: data.series.filter(function (s) { return want(c, s); })}); }
        });
      });
    });
  }

  function want(c, s) { return !c.ids || c.ids.indexOf(s.id) >= 0; }

  // ------------------------------------------------------------ the socket
  function connect() {
    var ws;
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/jobs/");
    } catch (e) {
      return;
    }
    ws.onopen = function () {
      retry = 1000;
      ws.send(JSON.stringify({type: "subscribe", jobs: []}));  // no job progress: only the metrics ticks
      if (opened) { refreshAll(); }  // ticks were missed while away
      opened = true;
    };
    ws.onmessage = function (m) {
      var frame;
      try { frame = JSON.parse(m.data); } catch (e) { return; }
      var events = frame && frame.type === "batch" ? frame.events || [] : [frame];
      if (events.some(function (e) {
        return e && (e.event === "metrics" || (e.event === "resync" && (e.job === null || e.job === undefined)));
      })) { refreshAll(); }
    };
    ws.onerror = function () {};  // the close that follows retries
    ws.onclose = function (e) {
      if (e.code >= 4000) { return; }  // refused (signed out): no retry
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 60000);
    };
  }

  // ------------------------------------------------------------ the page
  function chartOf(el, spark) {
    return {el: el, spark: spark, metrics: el.dataset.metrics || "", subject: el.dataset.subject || "",
            range: el.dataset.range || "24h", rawStep: +el.dataset.rawStep || 30, series: [], plot: null, seq: 0,
            start: 0, end: 0, resolution: 0, ids: null};
  }

  function embedded(c) {
    var source = document.getElementById(c.el.dataset.source || "");
    var data = null;
    try { data = source ? JSON.parse(source.textContent) : null; } catch (e) { data = null; }
    c.ids = (c.el.dataset.series || "").split(",").filter(Boolean).map(Number);
    if (!data) { empty(c); c.el.dataset.points = "0"; return; }
    accept(c, data);
    c.series = data.series.filter(function (s) { return want(c, s); });
    draw(c, true);
  }

  function setUrl(name, value) {
    if (!window.history || !history.replaceState) { return; }
    var params = new URLSearchParams(location.search);
    params.set(name, value);
    history.replaceState(null, "", location.pathname + "?" + params.toString() + location.hash);
  }

  function pickRange(button) {
    var range = button.dataset.range;
    document.querySelectorAll(".calypso-range[data-range]").forEach(function (b) {
      b.classList.toggle("selected", b === button);
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    charts.forEach(function (c) {
      if (!c.spark) { c.range = range; c.el.dataset.range = range; load(c); }
    });
    setUrl("range", range);
  }

  function pickSubject(select) {
    var group = select.dataset.subjectGroup;
    charts.forEach(function (c) {
      if (c.el.dataset.subjectGroup === group) { c.subject = select.value; c.el.dataset.subject = select.value; load(c); }
    });
    document.querySelectorAll('[data-subject-label="' + group + '"]').forEach(function (el) { el.textContent = select.value; });
    setUrl(group, select.value);
  }

  function resize() {
    charts.forEach(function (c) {
      if (c.plot && !c.spark) {
        var width = Math.max(200, c.el.clientWidth);
        if (width !== c.width) { c.width = width; c.plot.setSize({width: width, height: c.height}); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof uPlot === "undefined") { return; }
    document.querySelectorAll(".calypso-spark").forEach(function (el) {
      var c = chartOf(el, true);
      charts.push(c);
      embedded(c);
    });
    document.querySelectorAll(".calypso-chart").forEach(function (el) {
      var c = chartOf(el, false);
      charts.push(c);
      load(c);
    });
    if (!charts.length) { return; }
    document.querySelectorAll(".calypso-range[data-range]").forEach(function (b) {
      b.addEventListener("click", function () { pickRange(b); });
    });
    document.querySelectorAll("select[data-subject-group]").forEach(function (s) {
      s.addEventListener("change", function () { pickSubject(s); });
      var form = s.closest("form");
      if (form) { form.addEventListener("submit", function (e) { e.preventDefault(); pickSubject(s); }); }
    });
    var timer = null, later = function () { clearTimeout(timer); timer = setTimeout(resize, 150); };
    window.addEventListener("resize", later);
    if (window.ResizeObserver) {  // the sidebar folding widens the page without a window resize
      var watch = new ResizeObserver(later);  // resized later, outside the observer's callback
      charts.forEach(function (c) { if (!c.spark) { watch.observe(c.el); } });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && pending) { pending = false; refreshAll(); }
    });
    connect();
  });
})();
