// The sale page's only script: server-clock countdown, the path and captcha (sealed during the countdown,
// opened at the opening), the purchase with its answer, status.
// The page's HTML is the same for everyone; what depends on the shopper or the moment comes from JSON.
(function () {
  'use strict';
  var root = document.getElementById('sale');
  if (!root) return;
  var saleId = root.dataset.saleId;
  var startsAt = Number(root.dataset.startsAt);
  var endsAt = Number(root.dataset.endsAt);
  var sealLead = Number(root.dataset.sealLead) || 0;
  // A draw sale: attempts before drawAt become entries; at drawAt they are drawn; what is left sells first come.
  var isDraw = root.dataset.allocation === 'draw';
  var drawAt = Number(root.dataset.drawAt) || 0;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var LOCK_SECONDS = 10;
  // Answers from the gates before the shop counts a try (README, the purchase funnel: gates 1-11): the try
  // did not count, so the button pauses briefly (or for the Retry-After asked) instead of the full lock.
  var FREE_TRY = { BUSY: 1, OVERLOADED: 1, STARTING: 1, STOPPING: 1, RESTOCKING: 1, IP_RATE_LIMITED: 1, CROSS_SITE: 1, NOT_LOGGED_IN: 1, NETWORK: 1 };
  var FREE_PAUSE_SECONDS = 2;
  // Remaining seconds at which a screen reader hears how long is left; never once a second.
  var ANNOUNCE_AT = [3600, 1800, 900, 600, 300, 120, 60, 30, 10];

  function $(id) { return document.getElementById(id); }
  var el = {
    status: $('status'), phase: $('phase'), when: $('when'), whenTime: $('when-time'),
    countdownLabel: $('countdown-label'), countdownValue: $('countdown-value'), hint: $('hint'),
    buy: $('buy'), lock: $('lock'), left: $('left'), stockFill: $('stock-fill'), loginNote: $('login-note'),
    form: $('captcha-form'), image: $('captcha-image'), refresh: $('captcha-refresh'), answer: $('captcha-answer'),
    field: $('captcha-field'), fieldError: $('captcha-error'), submit: $('captcha-submit'), noPicture: $('captcha-nopicture'),
    result: $('result'), announce: $('announce'),
  };

  var state = {
    offset: 0, synced: false, phase: null, loggedIn: false, bought: false, left: Number(el.left.textContent) || 0,
    stock: Number(root.querySelector('#stock').textContent) || 0, lockedUntil: 0, captchaId: null, path: null,
    busy: false, announcedAt: null, loading: false, answerAfter: 0, sealed: null, opening: null,
    entry: 'none', drawn: false, seed: null, drawPolling: false,
  };

  var LABELS = { upcoming: 'Coming up', live: 'Live now', sold_out: 'Sold out', ended: 'Ended', bought: 'Yours',
    entering: 'Draw open', entered: 'In the draw', drawing: 'Drawing', won: 'You won', lost: 'Not drawn' };
  var HINTS = {
    upcoming: 'The button lights up by itself when the sale starts. No need to reload.',
    live: 'One unit per shopper. You will type a short code before buying.',
    sold_out: 'Every unit has been taken. Thank you for coming.',
    ended: 'This sale is over.',
    bought: 'You bought this one. Follow your order in My orders.',
    entering: 'A draw: everyone who enters before the entries close has the same chance, however fast.',
    entered: 'You are in the draw. Keep this page open, or come back: your result waits for you.',
    drawing: 'The entries are being drawn. Results in a moment.',
    won: 'You won: your order is in My orders.',
    lost: 'Not drawn this time, and every unit has gone.',
  };

  // Every answer the shop can give, in words. Unknown codes fall back to the server's own message.
  var MESSAGES = {
    ACCEPTED: 'Order accepted. We are confirming it now (pending)…',
    CONFIRMED: 'Order confirmed! It is yours. See it in My orders.',
    FAILED: 'Your order could not be completed. Nothing was charged.',
    SOLD_OUT: 'Sold out. Every unit was taken before your request reached us.',
    NOT_STARTED: 'The sale has not started yet. Wait for the countdown.',
    SALE_ENDED: 'The sale has ended. No more orders are taken.',
    ALREADY_BOUGHT: 'You have already bought in this sale. One per shopper.',
    TOO_FAST: 'Too fast: one try every 10 seconds, please. Wait for the countdown.',
    IN_FLIGHT: 'Your previous try is still being handled. Wait a moment.',
    BLOCKED: 'Your account or network is blocked from this sale.',
    CAPTCHA_WRONG: 'Those characters do not match the picture (case does not matter). Here is a new one.',
    CAPTCHA_EXPIRED: 'That picture expired. Here is a new one.',
    TICKET_INVALID: 'Please type the characters from a new picture.',
    TICKET_USED: 'Please type the characters from a new picture.',
    TICKET_EXPIRED: 'That code expired. Please type the characters from a new picture.',
    PATH_INVALID: 'The purchase link was not valid. Please try again.',
    BUSY: 'The shop is very busy right now. Your try did not count; please try again.',
    OVERLOADED: 'The shop is very busy right now. Your try did not count; please try again.',
    STARTING: 'The shop is starting up. Please try again in a moment.',
    STOPPING: 'The shop is restarting. Please try again in a moment.',
    RESTOCKING: 'This server is fetching more stock. Your try did not count; please try again in a moment.',
    QUEUE_UNAVAILABLE: 'We could not take your order just now. Nothing was charged; please try again.',
    QUEUE_UNKNOWN: 'We are not sure your order went through. We are checking…',
    IP_RATE_LIMITED: 'Too many requests from your network. Please wait a little.',
    CROSS_SITE: 'This page did not come from the shop. Please open the sale from the shop itself.',
    CAPTCHA_BUSY: 'Pictures are being drawn for the crowd. Please try again in a moment.',
    CAPTCHA_RATE_LIMITED: 'Too many new pictures. Answer the one you have, or wait a little.',
    CAPTCHA_EARLY: 'The check without a picture is not over yet. Wait a few seconds, then confirm.',
    NOT_LOGGED_IN: 'Please log in to buy.',
    CSRF: 'This page has expired. Please reload it.',
    NETWORK: 'Network problem. Check your connection and try again.',
    ENTERED: 'You are in the draw.',
    ALREADY_ENTERED: 'You are already in the draw: one entry per shopper. Your result comes when the entries close.',
    DRAW_RUNNING: 'The draw is running. What is left sells first come in a moment: try again then.',
    ENTRY_UNAVAILABLE: 'We could not record your entry just now. Nothing was lost: please try again.',
  };
  var KIND = { SOLD_OUT: 'info', SALE_ENDED: 'info', ALREADY_BOUGHT: 'info', NOT_STARTED: 'info', ALREADY_ENTERED: 'info', DRAW_RUNNING: 'info' };

  function now() { return Date.now() + state.offset; }

  function api(method, url, body, headers) {
    var h = Object.assign({ Accept: 'application/json' }, headers || {});
    if (method !== 'GET') h['X-CSRF-Token'] = csrf;
    if (body) h['Content-Type'] = 'application/json';
    return fetch(url, { method: method, headers: h, body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        var retry = Number(res.headers.get('Retry-After')) || 0;
        return res.json().catch(function () { return {}; }).then(function (data) {
          data.httpStatus = res.status;
          data.retryAfter = retry;
          return data;
        });
      })
      .catch(function () { return { ok: false, code: 'NETWORK', httpStatus: 0 }; });
  }

  // Offset = server clock minus ours, from the fastest of three round trips.
  function syncClock() {
    var best = null;
    function once() {
      var t0 = Date.now();
      return fetch('/api/time', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (d) {
        var t1 = Date.now();
        if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: d.now - (t0 + t1) / 2 };
      });
    }
    return once().then(once).then(once).then(function () { state.offset = best.offset; state.synced = true; }).catch(function () {});
  }

  function refreshState() {
    return api('GET', '/api/sales/' + saleId).then(function (d) {
      if (d.httpStatus !== 200) return;
      state.loggedIn = !!d.loggedIn;
      state.bought = state.bought || !!d.bought;
      state.left = d.left;
      state.stock = d.stock;
      if (d.draw) {
        state.entry = d.draw.entry === 'none' && state.entry === 'entered' ? 'entered' : d.draw.entry;
        state.drawn = d.draw.phase === 'drawn';
        if (d.draw.seed) showSeed(d.draw.seed);
        if (state.entry === 'won') state.bought = true;
      }
      if (d.csrfToken) csrf = d.csrfToken;
      fillNav(d.user);
      render();
    });
  }

  // The page is cached and the same for everyone, so the header's per-shopper links are built here.
  var navFilled = false;
  function fillNav(user) {
    var slot = document.getElementById('nav-session');
    if (!slot || navFilled) return;
    navFilled = true;
    function link(href, text, cls) {
      var a = document.createElement('a');
      a.href = href;
      a.textContent = text;
      if (cls) a.className = cls;
      slot.appendChild(a);
    }
    if (!user) {
      link('/user/login?next=' + encodeURIComponent(location.pathname), 'Log in');
      link('/user/register', 'Register', 'nav-cta');
      return;
    }
    link('/orders', 'My orders');
    if (user.role === 'admin') link('/admin', 'Admin');
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = 'Hi, ' + user.nickName;
    slot.appendChild(who);
    var form = document.createElement('form');
    form.method = 'post';
    form.action = '/user/logout';
    form.className = 'inline';
    var token = document.createElement('input');
    token.type = 'hidden';
    token.name = '_csrf';
    token.value = csrf;
    var button = document.createElement('button');
    button.type = 'submit';
    button.className = 'link';
    button.textContent = 'Log out';
    form.appendChild(token);
    form.appendChild(button);
    slot.appendChild(form);
  }

  // Stock only moves while the sale is live, so only then is it worth asking again; jitter spreads the crowd.
  function schedulePoll() {
    setTimeout(function () {
      var p = viewPhase();
      if (p === 'ended' || p === 'sold_out' || p === 'bought') return;
      (p === 'live' ? refreshState() : Promise.resolve()).then(schedulePoll);
    }, 5000 + Math.random() * 3000);
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + (d === 1 ? ' day ' : ' days ') : '') + pad(h) + ':' + pad(m) + ':' + pad(s % 60);
  }
  function spoken(seconds) {
    if (seconds >= 120) return Math.round(seconds / 60) + ' minutes';
    if (seconds >= 60) return '1 minute';
    return seconds + ' seconds';
  }

  function salePhase() {
    var t = now();
    if (t >= endsAt) return 'ended';
    if (t < startsAt) return 'upcoming';
    if (state.left <= 0) return 'sold_out';
    return 'live';
  }
  function viewPhase() {
    if (!isDraw) return state.bought ? 'bought' : salePhase();
    var sale = salePhase(), t = now();
    if (state.entry === 'won') return 'won';
    if (state.bought) return 'bought';
    if (sale === 'upcoming' || sale === 'ended') return sale;
    if (t < drawAt) return state.entry === 'entered' ? 'entered' : 'entering';
    if (!state.drawn) return state.entry === 'entered' ? 'entered' : 'drawing';
    if (state.entry === 'lost' && sale === 'sold_out') return 'lost';
    return sale;
  }

  // The draw's outcome, said above the button for as long as the page is open.
  function drawStatus(view) {
    var node = $('draw-status');
    if (!node) return;
    var t = now(), text = '', kind = '';
    if (view === 'entered') {
      text = t < drawAt ? 'You are in the draw, results at ' + utcClock(drawAt) + ' (in ' + clock(drawAt - t) + ').'
        : 'You are in the draw. Drawing now, results in a moment\u2026';
    } else if (state.entry === 'won') { text = 'You won: your order'; kind = 'won'; }
    else if (state.entry === 'lost') {
      text = 'Not drawn this time.' + (state.left > 0 && salePhase() === 'live' ? ' What is left (' + state.left + ') now sells first come: Buy now while it lasts.' : '');
    } else if (state.drawn && !state.bought && state.left > 0 && salePhase() === 'live') {
      text = 'The draw is done. What is left (' + state.left + ') now sells first come: Buy now while it lasts.';
    }
    node.className = 'draw-status' + (kind ? ' ' + kind : '');
    if (node.dataset.text !== text) {
      node.dataset.text = text;
      node.textContent = text;
      if (kind === 'won') {
        node.appendChild(document.createTextNode(' is in '));
        var a = document.createElement('a');
        a.href = '/orders';
        a.textContent = 'My orders';
        node.appendChild(a);
        node.appendChild(document.createTextNode('.'));
      }
    }
    node.hidden = !text;
  }

  function showSeed(seed) {
    if (state.seed === seed) return;
    state.seed = seed;
    var line = $('draw-seed-line'), code = $('draw-seed');
    if (code) code.textContent = seed;
    if (line) line.hidden = false;
  }

  // From the end of the entries until the shop has drawn: ask every two seconds or so (spread over the crowd).
  function pollDraw() {
    if (state.drawPolling) return;
    state.drawPolling = true;
    (function again() {
      setTimeout(function () {
        refreshState().then(function () {
          if (state.drawn || salePhase() === 'ended') { state.drawPolling = false; render(); } else again();
        });
      }, 1000 + Math.random() * 2000);
    })();
  }

  function utcClock(ms) { return new Date(ms).toISOString().slice(11, 19) + ' UTC'; }

  function setText(node, text) { if (node && node.textContent !== text) node.textContent = text; }
  function say(text) { el.announce.textContent = ''; setTimeout(function () { el.announce.textContent = text; }, 50); }

  // The shop's one way of showing a moment, as the server renders it: UTC, with the zone written out.
  function utcTime(ms) { return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'; }

  function render() {
    var t = now();
    var sale = salePhase();
    var view = viewPhase();
    if (view !== state.phase) {
      var before = state.phase;
      state.phase = view;
      onPhaseChange(before, view);
    }

    setText(el.phase, LABELS[view]);
    el.status.dataset.phase = view;
    root.dataset.phase = view;

    var label = '', value = '\u00a0';
    if (sale === 'upcoming') { label = 'Starts in'; value = clock(startsAt - t); }
    else if (view === 'entering') { label = 'Entries close in'; value = clock(drawAt - t); }
    else if (view === 'entered') { label = t < drawAt ? 'Results in' : 'Results'; value = t < drawAt ? clock(drawAt - t) : 'Drawing\u2026'; }
    else if (view === 'drawing') { value = 'Drawing\u2026'; }
    else if (view === 'won') { value = 'You won!'; }
    else if (view === 'lost') { value = 'Not drawn'; }
    else if (view === 'live') { label = 'Ends in'; value = clock(endsAt - t); }
    else if (view === 'bought') { value = 'You got one!'; }
    else if (view === 'sold_out') { value = 'All ' + state.stock + ' sold'; }
    else if (view === 'ended') { value = 'Sale over'; }
    setText(el.countdownLabel, label);
    setText(el.countdownValue, value);
    el.countdownValue.classList.toggle('long', / days? /.test(value));
    setText(el.hint, HINTS[view]);

    if (sale === 'upcoming') {
      announceCountdown(Math.ceil((startsAt - t) / 1000));
      setWhen('Starts', startsAt);
    } else if (sale === 'ended') setWhen('Ended', endsAt);
    else setWhen('Ends', endsAt);

    setText(el.left, String(Math.max(0, state.left)));
    var pct = state.stock > 0 ? Math.ceil((Math.max(0, state.left) / state.stock) * 20) * 5 : 0;
    el.stockFill.className = 'stock-fill pct-' + pct;
    if (el.loginNote) el.loginNote.hidden = state.loggedIn || !(sale === 'upcoming' || sale === 'live');

    var lockLeft = Math.ceil((state.lockedUntil - Date.now()) / 1000);
    var canTryAgainLater = view === 'live' || view === 'upcoming';
    setText(el.lock, lockLeft > 0 && canTryAgainLater ? 'Locked: you can try again in ' + lockLeft + ' s' : '\u00a0');
    el.lock.classList.toggle('on', lockLeft > 0 && canTryAgainLater);
    if (state.wasLocked && lockLeft <= 0) {
      state.wasLocked = false;
      if (view === 'live') say('You can try again now.');
    }

    if (isDraw) {
      drawStatus(view);
      if (sale === 'live' && t >= drawAt && !state.drawn) pollDraw();
    }
    var canBuy = (view === 'live' || view === 'entering') && lockLeft <= 0 && !state.busy;
    el.buy.disabled = !canBuy;
    var text = {
      upcoming: isDraw ? 'Enter the draw' : 'Buy now', live: state.loggedIn ? 'Buy now' : 'Log in to buy', sold_out: 'Sold out',
      ended: 'Sale ended', bought: 'Bought \u2713', entering: state.loggedIn ? 'Enter the draw' : 'Log in to enter',
      entered: 'Entered \u2713', drawing: 'Drawing\u2026', won: 'Won \u2713', lost: 'Not drawn',
    }[view];
    if (state.busy) text = view === 'entering' ? 'Entering\u2026' : 'Buying\u2026';
    setText(el.buy, text);
    el.buy.classList.toggle('ready', canBuy);
  }

  function setWhen(word, ms) {
    if (!el.whenTime) return;
    var node = el.when.firstChild;
    if (node && node.nodeType === 3 && node.textContent.trim() !== word) node.textContent = word + ' ';
    var iso = new Date(ms).toISOString();
    if (el.whenTime.getAttribute('datetime') !== iso) el.whenTime.setAttribute('datetime', iso);
    setText(el.whenTime, utcTime(ms));
  }

  function announceCountdown(secondsLeft) {
    // Speak when a threshold is crossed, not on load: the page itself already says how long is left.
    var bucket = null;
    for (var i = 0; i < ANNOUNCE_AT.length; i++) if (secondsLeft <= ANNOUNCE_AT[i]) bucket = ANNOUNCE_AT[i];
    if (state.announcedAt === null) { state.announcedAt = bucket === null ? Infinity : bucket; return; }
    if (bucket !== null && bucket < state.announcedAt) {
      state.announcedAt = bucket;
      say('The sale starts in ' + spoken(bucket) + '.');
    }
  }

  function onPhaseChange(before, after) {
    if (before === null) return; // first paint: nothing to announce
    if (after === 'entering') {
      say(state.loggedIn ? 'The draw is open. The Enter the draw button is enabled.' : 'The draw is open. Log in to enter.');
      if (state.sealed) openSealed();
      setTimeout(refreshState, Math.random() * 2000);
    } else if (after === 'won') {
      say('You won the draw. Your order is in My orders.');
      show('', ''); // the entry's message; the draw's outcome replaces it
      closeCaptcha();
    } else if (after === 'lost' || (before === 'entered' && state.entry === 'lost')) {
      say('Not drawn this time.' + (after === 'live' ? ' What is left now sells first come.' : ''));
      show('', '');
      closeCaptcha();
    } else if (after === 'drawing' || after === 'entered') {
      closeCaptcha();
    } else if (after === 'live') {
      say(state.loggedIn ? 'The sale is open. The Buy now button is enabled.' : 'The sale is open. Log in to buy.');
      if (state.sealed) openSealed();
      // Every page asks at the opening: spread over two seconds, the crowd's asks do not land at once.
      setTimeout(refreshState, Math.random() * 2000);
    } else if (after === 'sold_out') {
      say('Sold out.');
      closeCaptcha();
    } else if (after === 'ended') {
      say('The sale has ended.');
      closeCaptcha();
    }
  }

  function show(kind, text, link) {
    el.result.className = 'result' + (kind ? ' ' + kind : '');
    el.result.textContent = text;
    if (link) {
      el.result.appendChild(document.createTextNode(' '));
      var a = document.createElement('a');
      a.href = '/orders';
      a.textContent = 'Go to My orders';
      el.result.appendChild(a);
    }
  }

  function fieldError(text) {
    el.fieldError.textContent = text;
    el.field.classList.toggle('has-error', !!text);
    if (text) el.answer.setAttribute('aria-invalid', 'true'); else el.answer.removeAttribute('aria-invalid');
  }

  // One round trip for the secret path and a captcha; they exist only once the sale has started, so a
  // clock a little ahead of the server's is retried for a few seconds.
  // withoutPicture: the check for people who cannot see the picture, an empty answer that counts after a wait.
  function loadCaptcha(tries, withoutPicture) {
    tries = tries || 0;
    if (state.loading && !tries) return Promise.resolve();
    state.loading = true;
    el.answer.value = '';
    el.refresh.disabled = true;
    return api('POST', '/api/sales/' + saleId + '/challenge' + (withoutPicture ? '/wait' : '')).then(function (d) {
      // Asked a moment before the opening by the shop's clock, the answer comes sealed: opened with the key.
      if (d.ok && d.sealed && canUnseal()) return openBox(d.sealed).then(function (c) { return c || { ok: false, code: 'NETWORK' }; });
      return d;
    }).then(function (d) {
      var t = now();
      var early = (!d.ok && d.code === 'NOT_STARTED') || (d.ok && d.sealed);
      if (early && t >= startsAt - 1000 && t < startsAt + 5000 && tries < 20) {
        return new Promise(function (r) { setTimeout(r, 250); }).then(function () { return loadCaptcha(tries + 1, withoutPicture); });
      }
      if (!d.ok && d.code === 'CAPTCHA_BUSY' && tries < 20) {
        return new Promise(function (r) { setTimeout(r, 1000); }).then(function () { return loadCaptcha(tries + 1, withoutPicture); });
      }
      state.loading = false;
      el.refresh.disabled = false;
      if (!d.ok) {
        if (d.code === 'ALREADY_BOUGHT') state.bought = true;
        if (d.code === 'SOLD_OUT') state.left = 0;
        show(KIND[d.code] || 'error', MESSAGES[d.code] || d.message || 'Could not load a picture. Please try again.');
        closeCaptcha();
        render();
        el.result.focus();
        return;
      }
      showChallenge(d);
    });
  }

  function showChallenge(d) {
    state.path = d.path;
    state.captchaId = d.captchaId;
    el.form.hidden = false;
    if (!d.image) return waitWithoutPicture(d.answerAfter);
    state.answerAfter = 0;
    el.field.hidden = false;
    el.noPicture.hidden = false;
    var img = document.createElement('img');
    img.src = d.image;
    img.alt = 'Five characters, letters and digits, drawn bent and crossed by lines. Case does not matter.';
    img.width = 240;
    img.height = 80;
    el.image.replaceChildren(img);
    el.form.hidden = false;
    el.answer.focus();
  }

  // In the last sealLead ms of the countdown the shop hands out the challenge sealed: the page fetches it
  // at a random moment (so that the crowd's requests spread over the countdown) and opens it with the key
  // the shop publishes at the opening, one small answer the same for everyone. Without WebCrypto, or if
  // anything fails, Buy asks for a challenge at the opening as before.
  function canUnseal() { return !!(window.crypto && window.crypto.subtle); }

  function scheduleSealed() {
    if (!sealLead || !canUnseal() || !state.loggedIn || state.bought) return;
    var t = now();
    var from = Math.max(t, startsAt - sealLead + 1000), until = startsAt - 2000;
    if (until <= from) return;
    setTimeout(function () { fetchSealed(0); }, from + Math.random() * (until - from) - t);
  }

  function fetchSealed(tries) {
    api('POST', '/api/sales/' + saleId + '/challenge').then(function (d) {
      if (d.ok && d.sealed) { state.sealed = d.sealed; return; }
      if (d.code === 'CAPTCHA_BUSY' && tries < 5 && now() < startsAt - 3000) {
        setTimeout(function () { fetchSealed(tries + 1); }, 1000 + Math.random() * 1000);
      }
    });
  }

  function openSealed() {
    state.opening = openBox(state.sealed);
    state.sealed = null;
  }

  // The opened challenge, or null when the key could not be had or did not open it.
  function openBox(sealed) {
    return fetchKey(0)
      .then(function (key) { return key ? unseal(sealed, key) : null; })
      .catch(function () { return null; });
  }

  // The page's clock may be a little ahead of the shop's: too early is asked again every 250 ms.
  function fetchKey(tries) {
    return fetch('/api/sales/' + saleId + '/key', { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (d.ok) return d.key;
        if (d.code === 'NOT_STARTED' && tries < 20) return new Promise(function (r) { setTimeout(r, 250); }).then(function () { return fetchKey(tries + 1); });
        return null;
      });
  }

  function bytes(base64) {
    var text = atob(base64), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  // The sealed box is iv (12 bytes), then AES-GCM's ciphertext and tag; inside, the challenge's JSON.
  function unseal(sealed, key) {
    var box = bytes(sealed);
    return crypto.subtle.importKey('raw', bytes(key), { name: 'AES-GCM' }, false, ['decrypt'])
      .then(function (k) { return crypto.subtle.decrypt({ name: 'AES-GCM', iv: box.subarray(0, 12) }, k, box.subarray(12)); })
      .then(function (plain) { return JSON.parse(new TextDecoder().decode(plain)); });
  }

  // No picture: the answer is empty and counts from answerAfter (server time); the button says how long.
  function waitWithoutPicture(answerAfter) {
    state.answerAfter = answerAfter;
    el.image.replaceChildren();
    el.field.hidden = true;
    el.noPicture.hidden = true;
    var tick = function () {
      var left = Math.ceil((state.answerAfter - now()) / 1000);
      if (!state.answerAfter || el.form.hidden) return;
      if (left > 0) {
        el.image.textContent = 'No picture: you can confirm in ' + left + ' s.';
        el.submit.disabled = true;
        setTimeout(tick, 250);
      } else {
        el.image.textContent = 'No picture: you can confirm now.';
        el.submit.disabled = false;
        el.submit.focus();
      }
    };
    say('Check without a picture: you can confirm in ' + Math.ceil((answerAfter - now()) / 1000) + ' seconds.');
    tick();
  }

  function closeCaptcha() {
    el.form.hidden = true;
    state.captchaId = null;
    state.answerAfter = 0;
    el.field.hidden = false;
    el.noPicture.hidden = false;
    fieldError('');
  }

  function lock(seconds, free) {
    state.lockedUntil = Date.now() + Math.max(free ? FREE_PAUSE_SECONDS : LOCK_SECONDS, seconds || 0) * 1000;
    state.wasLocked = true;
    render();
  }

  el.buy.addEventListener('click', function () {
    if (!state.loggedIn) { window.location.href = '/user/login?next=' + encodeURIComponent(location.pathname); return; }
    if (!el.form.hidden) { el.answer.focus(); return; }
    show('', '');
    fieldError('');
    if (!state.opening) { loadCaptcha(); return; }
    var opening = state.opening;
    state.opening = null;
    state.loading = true;
    opening.then(function (c) {
      state.loading = false;
      if (c && c.expiresAt > now()) showChallenge(c); else loadCaptcha();
    });
  });

  el.refresh.addEventListener('click', function () { fieldError(''); loadCaptcha(); });
  el.noPicture.addEventListener('click', function () { fieldError(''); loadCaptcha(0, true); });

  el.form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.busy) return;
    var answer = state.answerAfter ? '' : el.answer.value.trim();
    if (!answer && !state.answerAfter) { fieldError('Type the characters you see in the picture.'); el.answer.focus(); return; }
    fieldError('');
    state.busy = true;
    el.submit.disabled = true;
    render();
    // The answer travels with the purchase itself: one request, and a typo costs neither the try nor the lock.
    api('POST', state.path, null, { 'X-Captcha': state.captchaId + '.' + answer })
      .then(function (d) {
        if (!d.ok && d.code === 'CAPTCHA_EARLY') { show('info', MESSAGES.CAPTCHA_EARLY); return; }
        if (!d.ok && (d.code === 'CAPTCHA_WRONG' || d.code === 'CAPTCHA_EXPIRED')) {
          fieldError(MESSAGES[d.code]);
          return loadCaptcha(0, !!state.answerAfter);
        }
        closeCaptcha();
        onPurchase(d);
      })
      .then(function () {
        state.busy = false;
        el.submit.disabled = false;
        render();
        if (el.form.hidden) el.result.focus();
      });
  });

  function onPurchase(d) {
    lock(d.retryAfter, !d.ok && FREE_TRY[d.code] === 1);
    if (d.ok && d.code === 'ENTERED') {
      state.entry = 'entered';
      show('success', MESSAGES.ENTERED + ' Results at ' + utcClock(d.drawAt || drawAt) + '.');
    } else if (d.ok) {
      state.bought = true;
      state.left = Math.max(0, state.left - 1);
      show('success pending', MESSAGES.ACCEPTED);
      pollStatus(d.requestId, 0);
    } else {
      if (d.code === 'ALREADY_BOUGHT') state.bought = true;
      if (d.code === 'ALREADY_ENTERED') state.entry = 'entered';
      if (d.code === 'SOLD_OUT') state.left = 0;
      if (d.code === 'PATH_INVALID') state.path = null;
      if (d.code === 'QUEUE_UNAVAILABLE' && d.requestId) {
        show('info pending', MESSAGES.QUEUE_UNKNOWN);
        pollStatus(d.requestId, 0);
      } else {
        show(KIND[d.code] || 'error', MESSAGES[d.code] || d.message || 'Something went wrong. Please try again.');
      }
    }
    refreshState();
  }

  function pollStatus(requestId, tries) {
    api('GET', '/api/orders/' + encodeURIComponent(requestId)).then(function (d) {
      if (d.status === 'confirmed') { state.bought = true; show('success', MESSAGES.CONFIRMED, true); render(); }
      else if (d.status === 'failed') show('error', MESSAGES.FAILED);
      else if (tries < 120) setTimeout(function () { pollStatus(requestId, tries + 1); }, tries < 10 ? 500 : 2000);
    });
  }

  syncClock().then(refreshState).then(function () {
    render();
    scheduleSealed();
    root.dataset.ready = 'true';
    setInterval(render, 250);
    schedulePoll();
  });
})();
