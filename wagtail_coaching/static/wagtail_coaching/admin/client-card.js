/* Opens a client card in a slide-out dialog from any link marked `data-coaching-card`.
 * The card is fetched as a fragment (?panel=1); its forms post from inside the dialog and
 * the server answers with the card again. Escape closes the dialog (native <dialog>), focus
 * moves into it and back to the link. Without this script the links open the card page. */
(function () {
  'use strict';

  var dialog = null;
  var body = null;
  var opener = null;

  function fragmentUrl(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set('panel', '1');
    return url.toString();
  }

  function build() {
    dialog = document.createElement('dialog');
    dialog.className = 'coaching-card-dialog';
    dialog.setAttribute('aria-label', 'Client card');
    var bar = document.createElement('div');
    bar.className = 'coaching-card-dialog__bar';
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'button button-small button-secondary';
    close.textContent = 'Close';
    close.addEventListener('click', function () { dialog.close(); });
    bar.appendChild(close);
    body = document.createElement('div');
    body.className = 'coaching-card-dialog__body';
    body.tabIndex = -1;
    dialog.appendChild(bar);
    dialog.appendChild(body);
    dialog.addEventListener('close', function () {
      body.innerHTML = '';
      if (opener && document.contains(opener)) { opener.focus(); }
      opener = null;
    });
    dialog.addEventListener('click', function (event) {
      if (event.target === dialog) { dialog.close(); } // a click on the backdrop
    });
    dialog.addEventListener('submit', onSubmit);
    document.body.appendChild(dialog);
  }

  function show(response) {
    return response.text().then(function (html) {
      if (response.ok || response.status === 403) {
        body.innerHTML = html;
      } else {
        body.textContent = response.status === 404
          ? 'This client card is not available.'
          : 'The client card could not be loaded.';
      }
      if (!dialog.open) { dialog.showModal(); }
      var heading = body.querySelector('[tabindex="-1"]') || body;
      heading.focus();
    });
  }

  function fail() {
    body.textContent = 'The client card could not be loaded.';
    if (!dialog.open) { dialog.showModal(); }
    body.focus();
  }

  function load(href) {
    if (!dialog) { build(); }
    return fetch(fragmentUrl(href), {
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'XMLHttpRequest' },
    }).then(show, fail);
  }

  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== 'post') { return; }
    event.preventDefault();
    fetch(form.action, {
      method: 'POST',
      body: new FormData(form),
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'XMLHttpRequest' },
    }).then(show, fail);
  }

  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[data-coaching-card]');
    if (!link || event.defaultPrevented || event.button !== 0 ||
        event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    if (typeof HTMLDialogElement === 'undefined') { return; } // the page opens instead
    event.preventDefault();
    opener = link;
    load(link.href);
  });
})();
