// An HTTP server and a keep-alive client of it in one node process: every
// 100 ms the client asks over the same connection and prints
//   client N hit H sockets S
// (S: distinct sockets the agent has used; 1 while the connection lives).
// Requests from outside (curl) are counted in H too.
const http = require('http');
let hits = 0;
const srv = http.createServer((req, res) => {
  hits++;
  res.end(`hit ${hits} ${req.url}\n`);
});
srv.keepAliveTimeout = 3600 * 1000;
srv.listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  console.log(`port ${port}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  let n = 0;
  const tick = () => {
    const req = http.get({ host: '127.0.0.1', port, path: `/in/${++n}`, agent }, (res) => {
      sockets.add(res.socket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        console.log(`client ${n} ${body.trim().split(' ').slice(0, 2).join(' ')} sockets ${sockets.size}`);
        setTimeout(tick, 100);
      });
    });
    req.on('error', (e) => {
      console.log(`BAD client error ${e.code}`);
      setTimeout(tick, 100);
    });
  };
  tick();
});
