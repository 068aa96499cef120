// pacer's service worker: shows Web Push reminders and opens the check-in
// page when one is tapped. It caches nothing: the page is always live.
'use strict';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let msg = {};
  try {
    msg = event.data ? event.data.json() : {};
  } catch (e) {
    msg = { body: event.data ? event.data.text() : '' };
  }
  const title = msg.title || 'pacer';
  const options = {
    body: msg.body || '',
    data: { url: msg.url || '/' },
    tag: msg.tag || undefined,
    icon: msg.icon || undefined,
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || '/';
  event.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const c of all) {
      if (c.url === url && 'focus' in c) {
        return c.focus();
      }
    }
    return self.clients.openWindow(url);
  })());
});
