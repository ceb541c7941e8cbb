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

// The inbox: live rows, keyboard triage, saved replies. Rows arrive as HTML the server
// rendered and escaped; like mentions above, they are parsed in an inert <template>.
(function () {
  'use strict';

  function flash(text) {
    var box = document.getElementById('flash');
    if (!box) {
      box = document.createElement('p');
      box.id = 'flash';
      box.className = 'flash';
      box.setAttribute('role', 'status');
      var main = document.querySelector('main');
      if (main) {
        main.insertBefore(box, main.firstChild);
      }
    }
    box.textContent = text;
  }

  function csrfToken(root) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (root && root.getAttribute('data-csrf')) || (meta && meta.getAttribute('content')) || '';
  }

  // A change through the JSON API (the same actions as the page's forms).
  function post(root, path, body) {
    return fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken(root) },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) {
        return response.json();
      }
      return response.json().then(function (problem) {
        throw new Error(problem && problem.error ? problem.error : String(response.status));
      }, function () {
        throw new Error(String(response.status));
      });
    });
  }

  function startLive(list) {
    var status = document.getElementById('inbox-live');
    if (!status || !list || !window.EventSource) {
      return;
    }
    var source = new EventSource(status.getAttribute('data-stream'));
    source.addEventListener('conversation', function (event) {
      var template = document.createElement('template');
      template.innerHTML = event.data;
      var row = template.content.firstElementChild;
      if (!row || row.tagName !== 'TR' || !row.id) {
        return;
      }
      var existing = document.getElementById(row.id);
      row.classList.add('fresh');
      if (existing) {
        if (existing.classList.contains('selected')) {
          row.classList.add('selected');
        }
        existing.replaceWith(row);
      } else {
        list.insertBefore(row, list.firstElementChild);
      }
      var empty = document.getElementById('empty');
      if (empty) {
        empty.remove();
      }
    });
    source.addEventListener('conversation-gone', function (event) {
      var row = document.getElementById('conversation-' + String(event.data).trim());
      if (row && !row.classList.contains('selected')) {
        row.remove();
      } else if (row) {
        row.classList.add('gone');
      }
    });
    source.addEventListener('open', function () {
      status.classList.remove('offline');
    });
    source.addEventListener('error', function () {
      status.classList.add('offline');
    });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable);
  }

  function toggleHelp(show) {
    var help = document.getElementById('help');
    if (!help) {
      return;
    }
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) {
      var close = document.getElementById('help-close');
      if (close) {
        close.focus();
      }
    }
  }

  function items(root) {
    var kind = root.getAttribute('data-keys');
    var selector = kind === 'list' ? '#conversation-rows > tr' : '#thread > li';
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  function move(root, step) {
    var all = items(root);
    if (all.length === 0) {
      return;
    }
    var current = all.findIndex(function (el) { return el.classList.contains('selected'); });
    var next = current < 0 ? 0 : Math.min(all.length - 1, Math.max(0, current + step));
    if (current >= 0) {
      all[current].classList.remove('selected');
      all[current].removeAttribute('aria-selected');
    }
    all[next].classList.add('selected');
    all[next].setAttribute('aria-selected', 'true');
    all[next].scrollIntoView({ block: 'nearest' });
  }

  function selectedRow() {
    return document.querySelector('#conversation-rows > tr.selected');
  }

  function submit(id) {
    var form = document.getElementById(id);
    if (form) {
      form.requestSubmit();
      return true;
    }
    return false;
  }

  function onListKey(root, key) {
    var row = selectedRow();
    var id = row && row.getAttribute('data-id');
    switch (key) {
      case 'Enter':
        if (row) {
          window.location.assign(row.getAttribute('data-href'));
        }
        return true;
      case 'r':
        if (row) {
          window.location.assign(row.getAttribute('data-href') + '#reply-body');
        }
        return true;
      case 'a':
      case 'e':
      case 'i':
        if (!id) {
          return true;
        }
        var change = key === 'a'
          ? post(root, '/api/conversations/' + id + '/assign', { member: 'me' })
          : post(root, '/api/conversations/' + id + '/state', { state: key === 'e' ? 'resolved' : 'ignored' });
        row.classList.add('busy');
        change.then(function () {
          row.classList.remove('busy');
          row.classList.add('changed');
        }, function (error) {
          row.classList.remove('busy');
          flash(error.message);
        });
        return true;
      case '/':
        var filter = document.getElementById('filter-state');
        if (filter) {
          filter.focus();
        }
        return true;
      default:
        return false;
    }
  }

  function onConversationKey(key) {
    switch (key) {
      case 'a':
        return submit('assign-me');
      case 'r':
        var body = document.getElementById('reply-body') || document.querySelector('#elsewhere-form textarea');
        if (body) {
          var details = body.closest('details');
          if (details) {
            details.open = true;
          }
          body.focus();
        }
        return true;
      case 'e':
        return submit('resolve-form');
      case 'i':
        return submit('ignore-form') || submit('unignore-form');
      case '/':
        window.location.assign('/inbox');
        return true;
      default:
        return false;
    }
  }

  function start() {
    var root = document.querySelector('[data-keys]');
    if (!root) {
      return;
    }
    var kind = root.getAttribute('data-keys');
    if (kind === 'list') {
      startLive(document.getElementById('conversation-rows'));
    }
    var close = document.getElementById('help-close');
    if (close) {
      close.addEventListener('click', function () { toggleHelp(false); });
    }
    var saved = document.getElementById('saved-replies');
    var replyBody = document.getElementById('reply-body');
    if (saved && replyBody) {
      saved.addEventListener('change', function () {
        if (saved.value) {
          replyBody.value = saved.value;
          replyBody.focus();
        }
      });
    }
    if (kind === 'conversation' && window.location.hash === '#reply-body' && replyBody) {
      replyBody.focus();
    }
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') {
        toggleHelp(false);
        if (typing(event.target)) {
          event.target.blur();
        }
        return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      var handled;
      if (event.key === '?') {
        toggleHelp();
        handled = true;
      } else if (event.key === 'j' || event.key === 'k') {
        move(root, event.key === 'j' ? 1 : -1);
        handled = true;
      } else if (kind === 'list') {
        handled = onListKey(root, event.key);
      } else {
        handled = onConversationKey(event.key);
      }
      if (handled) {
        event.preventDefault();
      }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
