// Earshot live updates. The server sends each new mention as an HTML fragment it rendered
// and escaped itself; the fragment is parsed inside an inert <template> (scripts in it never
// run) and the resulting element is moved to the top of the list.
(function () {
  'use strict';

  function start() {
    var status = document.getElementById('live-status');
    var list = document.getElementById('mentions');
    if (!status || !list || !window.EventSource) {
      return;
    }
    var counter = document.getElementById('live-count');
    var added = 0;
    var source = new EventSource(status.getAttribute('data-stream'));

    source.addEventListener('mention', function (event) {
      var template = document.createElement('template');
      template.innerHTML = event.data;
      var item = template.content.firstElementChild;
      // Only our own list items, and each mention once (a reconnect may resend one).
      if (!item || item.tagName !== 'LI' || !item.id || document.getElementById(item.id)) {
        return;
      }
      item.classList.add('fresh');
      list.insertBefore(item, list.firstElementChild);
      var empty = document.getElementById('empty');
      if (empty) {
        empty.remove();
      }
      added += 1;
      if (counter) {
        counter.textContent = '+' + added + ' ' + (counter.getAttribute('data-label') || '');
      }
    });

    source.addEventListener('open', function () {
      status.classList.remove('offline');
    });
    source.addEventListener('error', function () {
      // EventSource reconnects by itself, resuming after the last id it saw.
      status.classList.add('offline');
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
