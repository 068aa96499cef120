// Runs web-push-testing's push service for notify/webpush's
// PACER_TEST_WEBPUSH=1 test. Its own CLI starts a detached daemon on all
// interfaces at a fixed port and keeps state in the working directory;
// this uses the same server and model classes in the foreground, bound to
// 127.0.0.1 on a free port, and prints "listening http://127.0.0.1:PORT"
// once requests can be made. The test stops it by killing this process.
'use strict';

const WebPushTestingServer = require('web-push-testing/src/server.js');
const {PushApiModel} = require('web-push-testing/src/PushApiModel.js');

const model = new PushApiModel();
const server = new WebPushTestingServer(model, 0);
server.setRequestHandlers();
const listener = server._app.listen(0, '127.0.0.1', () => {
	const base = 'http://127.0.0.1:' + listener.address().port;
	model.notifyUrl = base + '/notify/';
	console.log('listening ' + base);
});
listener.on('error', err => {
	console.error(err);
	process.exit(1);
});
