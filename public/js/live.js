// The live sale dashboard: listens to the sale's Server-Sent Events (one sample about every second) and
// redraws the figures and three small SVG line charts in place. No library: a chart is a polyline or two.
(function () {
  'use strict';
  var root = document.getElementById('live');
  if (!root || !window.EventSource || !document.getElementById('live-at')) return;
  var SVG = 'http://www.w3.org/2000/svg';
  var W = 300, H = 120, PAD_L = 34, PAD_B = 14, PAD_T = 6;
  var KEEP = 120;
  var LABELS = { live: 'Live', upcoming: 'Upcoming', sold_out: 'Sold out', ended: 'Ended' };
  var samples = [];

  function $(sel) { return root.querySelector(sel); }
  function setText(node, text) { if (node && node.textContent !== text) node.textContent = text; }
  function sum(o) { var n = 0; for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) n += o[k]; return Math.round(n * 10) / 10; }
  function ms(v) { return v === null || v === undefined ? '\u2013' : v < 10000 ? v + ' ms' : (v / 1000).toFixed(1) + ' s'; }
  // The shop's one way of showing a moment: UTC, with the zone written out (as the server's pages do).
  function utc(at) { return new Date(at).toISOString().slice(0, 19).replace('T', ' ') + ' UTC'; }

  function el(name, attrs, text) {
    var n = document.createElementNS(SVG, name);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /** Draws `series` ([{cls, values}]) over the samples' times into the svg, with a 0..max scale. */
  function chart(svg, series) {
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = 1;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    var n = samples.length;
    var x = function (i) { return PAD_L + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD_L - 2)); };
    var y = function (v) { return PAD_T + (1 - v / max) * (H - PAD_T - PAD_B); };
    svg.appendChild(el('line', { 'class': 'axis', x1: PAD_L, y1: H - PAD_B, x2: W, y2: H - PAD_B }));
    svg.appendChild(el('line', { 'class': 'axis', x1: PAD_L, y1: PAD_T, x2: PAD_L, y2: H - PAD_B }));
    svg.appendChild(el('text', { 'class': 'axis-label', x: PAD_L - 3, y: PAD_T + 8, 'text-anchor': 'end' }, String(Math.round(max))));
    svg.appendChild(el('text', { 'class': 'axis-label', x: PAD_L - 3, y: H - PAD_B, 'text-anchor': 'end' }, '0'));
    if (n > 0) svg.appendChild(el('text', { 'class': 'axis-label', x: W, y: H - 2, 'text-anchor': 'end' }, n + ' s'));
    series.forEach(function (s) {
      var pts = s.values.map(function (v, i) { return x(i).toFixed(1) + ',' + y(v).toFixed(1); }).join(' ');
      if (pts) svg.appendChild(el('polyline', { 'class': 'line ' + s.cls, points: pts }));
    });
  }

  function draw() {
    chart(document.getElementById('chart-rate'), [
      { cls: 'accepted', values: samples.map(function (s) { return s.acceptedPerSecond; }) },
      { cls: 'refused', values: samples.map(function (s) { return sum(s.refusedPerSecond); }) },
    ]);
    chart(document.getElementById('chart-left'), [{ cls: 'left', values: samples.map(function (s) { return s.left; }) }]);
    chart(document.getElementById('chart-lag'), [{ cls: 'lag', values: samples.map(function (s) { return s.lagMs; }) }]);
  }

  function figures(s) {
    var phase = document.getElementById('live-phase');
    if (phase) { phase.dataset.phase = s.phase; setText(phase, LABELS[s.phase] || s.phase); }
    var at = document.getElementById('live-at');
    at.setAttribute('datetime', new Date(s.at).toISOString());
    setText(at, utc(s.at));
    setText($('[data-live="left"]'), String(s.left));
    setText($('[data-live="sold"]'), s.sold + ' of ' + s.stock);
    setText($('[data-live="acceptedPerSecond"]'), String(s.acceptedPerSecond));
    setText($('[data-live="refusedPerSecond"]'), String(sum(s.refusedPerSecond)));
    setText($('[data-live="sellOutMs"]'), ms(s.sellOutMs));
    setText($('[data-live="pending"]'), String(s.pending));
    setText($('[data-live="queueDepth"]'), s.queueDepth === null ? '\u2013' : String(s.queueDepth));
    setText($('[data-live="deadLetters"]'), s.deadLetters === null ? '\u2013' : String(s.deadLetters));
    setText($('[data-live="lagMs"]'), s.lagMs + ' ms');
    ['database', 'broker', 'writer'].forEach(function (name) {
      var li = document.getElementById('health-' + name);
      if (!li) return;
      li.className = s.health[name] ? 'up' : 'down';
      setText(li.querySelector('span'), s.health[name] ? 'up' : 'down');
    });
    refusals(s);
    summary(s.summary);
  }

  function refusals(s) {
    var body = $('#refusals tbody');
    var codes = Object.keys(s.refusedTotal);
    if (codes.length === 0) return;
    var none = body.querySelector('tr.none');
    if (none) body.removeChild(none);
    codes.forEach(function (code) {
      var row = body.querySelector('tr[data-code="' + code + '"]');
      if (!row) {
        row = document.createElement('tr');
        row.dataset.code = code;
        var c = document.createElement('td'); var k = document.createElement('code'); k.textContent = code; c.appendChild(k);
        var p = document.createElement('td'); p.dataset.label = 'Per second';
        var t = document.createElement('td'); t.dataset.label = 'Since start';
        row.appendChild(c); row.appendChild(p); row.appendChild(t);
        body.appendChild(row);
      }
      setText(row.cells[1], String(s.refusedPerSecond[code] || 0));
      setText(row.cells[2], String(s.refusedTotal[code]));
    });
  }

  function summary(sm) {
    var box = document.getElementById('summary');
    if (!box || !sm) return;
    box.hidden = false;
    setText(box.querySelector('[data-summary="sellOutMs"]'), sm.sellOutMs === null ? 'did not sell out' : ms(sm.sellOutMs));
    setText(box.querySelector('[data-summary="accepted"]'), String(sm.accepted));
    setText(box.querySelector('[data-summary="ordersWritten"]'), String(sm.ordersWritten));
    setText(box.querySelector('[data-summary="audit"]'), sm.audit.ok ? 'passed' : 'FAILED');
    var refused = Object.keys(sm.refused).map(function (c) { return c + ' ' + sm.refused[c]; }).join(', ');
    setText(box.querySelector('[data-summary="refused"]'), refused || 'none');
    var list = box.querySelector('[data-summary="failures"]');
    if (list.childNodes.length === 0) sm.audit.failures.forEach(function (f) { var li = document.createElement('li'); li.textContent = f; list.appendChild(li); });
  }

  var source = new EventSource(root.dataset.events);
  source.addEventListener('history', function (e) {
    samples = JSON.parse(e.data).slice(-KEEP);
    if (samples.length) figures(samples[samples.length - 1]);
    draw();
  });
  source.addEventListener('sample', function (e) {
    var s = JSON.parse(e.data);
    samples.push(s);
    if (samples.length > KEEP) samples.shift();
    figures(s);
    draw();
    root.dataset.samples = String(samples.length);
  });
  source.addEventListener('error', function () {
    setText(document.getElementById('live-conn'), 'connection lost; reconnecting\u2026');
  });
  source.addEventListener('open', function () {
    setText(document.getElementById('live-conn'), 'updates about every second.');
  });
})();
