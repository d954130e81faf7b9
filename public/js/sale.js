// The sale page's only script: server-clock countdown, captcha, ticket, secret path, purchase, status.
(function () {
  'use strict';
  var root = document.getElementById('sale');
  if (!root) return;
  var saleId = root.dataset.saleId;
  var startsAt = Number(root.dataset.startsAt);
  var endsAt = Number(root.dataset.endsAt);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var LOCK_SECONDS = 10;

  var el = {
    phase: document.getElementById('phase'),
    countdown: document.getElementById('countdown'),
    buy: document.getElementById('buy'),
    lock: document.getElementById('lock'),
    left: document.getElementById('left'),
    form: document.getElementById('captcha-form'),
    image: document.getElementById('captcha-image'),
    refresh: document.getElementById('captcha-refresh'),
    answer: document.getElementById('captcha-answer'),
    result: document.getElementById('result'),
  };

  var state = { offset: 0, phase: 'upcoming', loggedIn: false, bought: false, left: 0, lockedUntil: 0, captchaId: null, path: null, busy: false };
  var lastAnnounced = '';

  var MESSAGES = {
    ACCEPTED: 'Order accepted! We are confirming it now.',
    SOLD_OUT: 'Sold out. Every unit has been taken.',
    NOT_STARTED: 'The sale has not started yet.',
    SALE_ENDED: 'The sale has ended.',
    ALREADY_BOUGHT: 'You have already bought in this sale.',
    TOO_FAST: 'Easy! One try every 10 seconds.',
    IN_FLIGHT: 'Your previous try is still being handled.',
    BLOCKED: 'Your account or network is blocked from this sale.',
    CAPTCHA_WRONG: 'Those characters do not match the picture. Here is a new one.',
    CAPTCHA_EXPIRED: 'That picture expired. Here is a new one.',
    TICKET_INVALID: 'Please solve the captcha again.',
    TICKET_USED: 'Please solve the captcha again.',
    TICKET_EXPIRED: 'Please solve the captcha again.',
    BUSY: 'The shop is very busy. Please try again in a moment.',
    OVERLOADED: 'The shop is very busy. Please try again in a moment.',
    QUEUE_UNAVAILABLE: 'We could not take your order just now. Please try again.',
    STARTING: 'The shop is starting. Please try again in a moment.',
    IP_RATE_LIMITED: 'Too many requests from your network. Please wait a little.',
    NOT_LOGGED_IN: 'Please log in to buy.',
  };

  function now() { return Date.now() + state.offset; }

  function api(method, url, body, headers) {
    var h = Object.assign({ Accept: 'application/json' }, headers || {});
    if (method !== 'GET') h['X-CSRF-Token'] = csrf;
    if (body) h['Content-Type'] = 'application/json';
    return fetch(url, { method: method, headers: h, body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin' })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) { data.httpStatus = res.status; return data; });
      })
      .catch(function () { return { ok: false, code: 'NETWORK', message: 'Network problem. Check your connection and try again.' }; });
  }

  // Offset = server clock minus ours, from the fastest of a few round trips.
  function syncClock() {
    var best = null;
    function once() {
      var t0 = Date.now();
      return fetch('/api/time', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (d) {
        var t1 = Date.now();
        if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: d.now - (t0 + t1) / 2 };
      });
    }
    return once().then(once).then(once).then(function () { state.offset = best.offset; }).catch(function () {});
  }

  function refreshState() {
    return api('GET', '/api/sales/' + saleId).then(function (d) {
      if (d.httpStatus !== 200) return;
      state.loggedIn = d.loggedIn;
      state.bought = d.bought;
      state.left = d.left;
      el.left.textContent = String(d.left);
      render();
    });
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function duration(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + 'd ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s % 60);
  }

  function phaseNow() {
    var t = now();
    if (t >= endsAt) return 'ended';
    if (t < startsAt) return 'upcoming';
    if (state.left <= 0) return 'sold_out';
    return 'live';
  }

  function render() {
    var t = now();
    var phase = phaseNow();
    if (phase !== state.phase) {
      state.phase = phase;
      if (phase === 'live') fetchPath();
    }
    var text, countdown = '';
    if (phase === 'upcoming') { text = 'Starts soon'; countdown = 'Starts in ' + duration(startsAt - t); }
    else if (phase === 'live') { text = state.bought ? 'You bought this one' : 'Live now'; countdown = 'Ends in ' + duration(endsAt - t); }
    else if (phase === 'sold_out') { text = state.bought ? 'You bought this one' : 'Sold out'; }
    else { text = 'This sale has ended'; }
    el.phase.textContent = text;
    el.phase.dataset.phase = state.bought ? 'bought' : phase;
    root.dataset.phase = phase;
    // Announce politely only when the minute changes, not every second.
    var minuteText = phase === 'upcoming' ? countdown.replace(/:\d\d$/, '') : countdown;
    el.countdown.textContent = countdown || '\u00a0';
    if (minuteText !== lastAnnounced) { lastAnnounced = minuteText; el.countdown.setAttribute('aria-label', countdown); }

    var lockLeft = Math.ceil((state.lockedUntil - Date.now()) / 1000);
    el.lock.textContent = lockLeft > 0 ? 'You can try again in ' + lockLeft + ' s' : '\u00a0';
    var canBuy = phase === 'live' && !state.bought && lockLeft <= 0 && !state.busy;
    el.buy.disabled = !canBuy;
    el.buy.textContent = state.bought ? 'Bought' : phase === 'sold_out' ? 'Sold out' : phase === 'ended' ? 'Ended' : 'Buy now';
  }

  function fetchPath() {
    if (state.path || !state.loggedIn) return Promise.resolve(state.path);
    return api('GET', '/api/sales/' + saleId + '/path').then(function (d) {
      if (d.ok) state.path = d.path;
      return state.path;
    });
  }

  function show(kind, text) {
    el.result.className = 'result ' + kind;
    el.result.textContent = text;
  }

  function loadCaptcha() {
    el.answer.value = '';
    return api('POST', '/api/sales/' + saleId + '/captcha').then(function (d) {
      if (!d.ok) { show('error', d.message || 'Could not load a captcha.'); return; }
      state.captchaId = d.captchaId;
      el.image.innerHTML = d.svg;
      el.form.hidden = false;
      el.answer.focus();
    });
  }

  function lock() {
    state.lockedUntil = Date.now() + LOCK_SECONDS * 1000;
    render();
  }

  el.buy.addEventListener('click', function () {
    if (!state.loggedIn) { window.location.href = '/user/login?next=' + encodeURIComponent(location.pathname); return; }
    show('', '');
    loadCaptcha();
  });

  el.refresh.addEventListener('click', function () { loadCaptcha(); });

  el.form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.busy) return;
    var answer = el.answer.value.trim();
    if (!answer) { show('error', 'Type the characters from the picture.'); el.answer.focus(); return; }
    state.busy = true;
    render();
    api('POST', '/api/sales/' + saleId + '/ticket', { captchaId: state.captchaId, answer: answer })
      .then(function (t) {
        if (!t.ok) {
          show('error', MESSAGES[t.code] || t.message || 'Something went wrong.');
          return loadCaptcha();
        }
        el.form.hidden = true;
        return fetchPath().then(function (path) {
          if (!path) { show('error', 'The purchase link is not available yet.'); return; }
          return api('POST', path, null, { 'X-Purchase-Ticket': t.ticket }).then(onPurchase);
        });
      })
      .then(function () { state.busy = false; render(); });
  });

  function onPurchase(d) {
    lock();
    if (d.ok) {
      state.bought = true;
      show('success', MESSAGES.ACCEPTED);
      pollStatus(d.requestId, 0);
    } else {
      if (d.code === 'ALREADY_BOUGHT') state.bought = true;
      if (d.code === 'SOLD_OUT') state.left = 0;
      show(d.code === 'SOLD_OUT' || d.code === 'SALE_ENDED' ? 'info' : 'error', MESSAGES[d.code] || d.message || 'Something went wrong.');
    }
    refreshState();
  }

  function pollStatus(requestId, tries) {
    api('GET', '/api/orders/' + requestId).then(function (d) {
      if (d.status === 'confirmed') show('success', 'Order confirmed! See it in My orders.');
      else if (d.status === 'failed') show('error', 'Your order could not be completed. The unit was not charged.');
      else if (tries < 60) setTimeout(function () { pollStatus(requestId, tries + 1); }, 1000);
    });
  }

  syncClock().then(refreshState).then(function () {
    render();
    setInterval(render, 250);
    setInterval(refreshState, 5000);
  });
})();
