// "My orders": asks about each pending order until it is confirmed or failed, and says so in place.
(function () {
  'use strict';
  var live = document.getElementById('orders-live');
  var WORDS = { pending: 'Pending', confirmed: 'Confirmed', failed: 'Failed' };

  function watch(row, tries) {
    var id = row.dataset.requestId;
    fetch('/api/orders/' + encodeURIComponent(id), { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; })
      .then(function (d) {
        var status = d && d.status;
        if (status && status !== row.dataset.status) {
          row.dataset.status = status;
          var pill = row.querySelector('[data-status-text]');
          pill.className = 'status-pill status-' + status;
          pill.textContent = WORDS[status] || status;
          var name = row.cells[0].textContent.trim();
          live.textContent = 'Your order for ' + name + ' is ' + (WORDS[status] || status).toLowerCase() + '.';
        }
        if (status === 'pending' || !status) {
          if (tries < 120) setTimeout(function () { watch(row, tries + 1); }, tries < 10 ? 1000 : 3000);
        }
      });
  }

  var rows = document.querySelectorAll('tr.order[data-status="pending"]');
  for (var i = 0; i < rows.length; i++) watch(rows[i], 0);
})();
