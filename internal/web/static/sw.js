// pacer's service worker: shows Web Push reminders and opens the page they
// link when one is tapped. A message is a Declarative Web Push notification
// ({"web_push":8030,"notification":{title, body, navigate, tag, actions,
// data}}), which Safari 18.4 and later shows without this worker; other
// browsers run it. A reminder's "Done" button records its session from the
// lock screen: the worker posts {"status":"done"} to the session's own link
// and says so, without opening anything. It caches nothing: the pages are
// always live.
'use strict';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let msg = {};
  try {
    msg = event.data ? event.data.json() : {};
  } catch (e) {
    msg = { notification: { body: event.data ? event.data.text() : '' } };
  }
  const n = msg.notification || msg;
  const options = {
    body: n.body || '',
    tag: n.tag || undefined,
    lang: n.lang || undefined,
    data: { url: n.navigate || n.url || '/', done: n.data && n.data.done, confirmed: n.data && n.data.confirmed },
    actions: (n.actions || []).map((a) => ({ action: a.action, title: a.title })),
  };
  event.waitUntil(self.registration.showNotification(n.title || 'pacer', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  if (event.action === 'done' && data.done) {
    event.waitUntil((async () => {
      const resp = await fetch(data.done, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"status":"done"}',
        credentials: 'omit',
      }).catch(() => null);
      if (resp && resp.ok) {
        if (data.confirmed) {
          await self.registration.showNotification(data.confirmed, { tag: event.notification.tag, silent: true });
        }
        return;
      }
      await open(data.done); // not recorded: the session's page, where it can be
    })());
    return;
  }
  event.waitUntil(open(data.url || '/'));
});

// open focuses a window showing url, or opens one.
async function open(url) {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of all) {
    if (c.url === url && 'focus' in c) {
      return c.focus();
    }
  }
  return self.clients.openWindow(url);
}
