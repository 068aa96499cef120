// The patient's pages' one enhancement: Web Push. Everything else on them
// is plain forms and links. On every page load, a browser that already
// receives notifications sends its subscription again (a browser may renew
// it at any time; the server stores an unchanged one once); the reminders
// page's button turns notifications on. The handout's Print button prints.
// Texts come from the page (data-* attributes) in the patient's language.
'use strict';

(function () {
  const body = document.body;

  const print = document.getElementById('print');
  if (print) {
    print.hidden = false;
    print.addEventListener('click', () => window.print());
  }

  if (!body.dataset.subscribe) {
    return;
  }
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  let registration = null;
  if ('serviceWorker' in navigator) {
    registration = navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope })
      .catch(() => null);
  }

  // base64url → bytes, for applicationServerKey.
  const keyBytes = (s) => {
    const pad = '='.repeat((4 - (s.length % 4)) % 4);
    const raw = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };

  // send stores the browser's subscription with the server.
  const send = async (sub) => {
    const resp = await fetch(body.dataset.subscribe, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(sub.toJSON()),
      credentials: 'same-origin',
    });
    if (!resp.ok) {
      throw new Error('subscribe: ' + resp.status);
    }
  };

  // On every page: a subscription this browser has is sent again.
  if (supported && Notification.permission === 'granted') {
    (async () => {
      const reg = (await registration) || (await navigator.serviceWorker.ready);
      const sub = reg && (await reg.pushManager.getSubscription());
      if (sub) {
        await send(sub);
      }
    })().catch(() => {});
  }

  const button = document.getElementById('push-on');
  const status = document.getElementById('push-status');
  const nojs = document.getElementById('push-nojs');
  if (!button || !status) {
    return;
  }
  if (nojs) {
    nojs.hidden = true;
  }
  // data-msg-on is read as dataset.msgOn, and so on.
  const say = (key) => { status.textContent = status.dataset['msg' + key[0].toUpperCase() + key.slice(1)] || ''; };

  const standalone = window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
  const ios = /iPad|iPhone|iPod/.test(navigator.userAgent) ||
    (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);

  if (!supported) {
    // iOS offers Web Push only to web apps added to the Home Screen.
    say(ios && !standalone ? 'ios' : 'unsupported');
    return;
  }
  button.hidden = false;

  button.addEventListener('click', async () => {
    button.disabled = true;
    say('working');
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') {
        say('denied');
        return;
      }
      const keyResp = await fetch(body.dataset.vapid, { credentials: 'same-origin' });
      if (keyResp.status === 404) {
        say('noserver');
        return;
      }
      if (!keyResp.ok) {
        throw new Error('vapid key: ' + keyResp.status);
      }
      const { public_key: publicKey } = await keyResp.json();
      const reg = (await registration) || (await navigator.serviceWorker.ready);
      if (!reg) {
        throw new Error('no service worker');
      }
      let sub = await reg.pushManager.getSubscription();
      if (!sub) {
        sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
      }
      await send(sub);
      say('on');
    } catch (e) {
      say('error');
    } finally {
      button.disabled = false;
    }
  });
})();
