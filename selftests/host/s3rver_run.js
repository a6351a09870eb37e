// s3rver (npm) for the S3 tests: TLS with the test's certificate, one bucket,
// an ephemeral port printed as "READY <port>", and every finished request
// appended to a log file as "<method> <url> <status>" so tests can count them.
'use strict';

const fs = require('fs');
const path = require('path');

const [dir, port, key, cert, bucket, log] = process.argv.slice(2);
const S3rver = require(path.join(__dirname, '..', 'node', 'node_modules', 's3rver'));

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  key: fs.readFileSync(key),
  cert: fs.readFileSync(cert),
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});

server.run().then(addr => {
  server.httpServer.on('request', (req, res) => {
    res.on('finish', () => {
      fs.appendFileSync(log, `${req.method} ${req.url} ${res.statusCode}\n`);
    });
  });
  process.stdout.write(`READY ${addr.port}\n`);
});
