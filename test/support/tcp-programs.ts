/** Small python3 programs tests run inside pod namespaces: an echo server, a long-lived echo client, a connect probe. */
import { runCommand } from './cluster.ts';

/** A threaded TCP echo server on `port`. */
export function echoServer(port: number): string {
  return `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${port})); s.listen(16)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d: return
        c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;
}

/** A client keeping one connection busy for `rounds` × 20 ms; prints "done" when every echo came back. */
export function streamClient(ip: string, port: number, rounds: number): string {
  return `
import socket, time
c = socket.create_connection(('${ip}', ${port}), timeout=5)
for i in range(${rounds}):
    c.sendall(b'x'); assert c.recv(1) == b'x'; time.sleep(0.02)
print('done', flush=True)
`;
}

/**
 * A stand-in for `agnhost netexec`'s client-address answers: `GET /clientip` over HTTP on `tcpPort`
 * and the datagram `clientip` on `udpPort` are answered with the address and port the client was
 * seen at.
 */
export function clientIpServer(tcpPort: number, udpPort: number): string {
  return `
import socket, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(('0.0.0.0', ${tcpPort})); t.listen(16)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', ${udpPort}))
def answer_udp():
    while True:
        d, a = u.recvfrom(512)
        if d == b'clientip': u.sendto(b'%s:%d' % (a[0].encode(), a[1]), a)
threading.Thread(target=answer_udp, daemon=True).start()
while True:
    c, a = t.accept(); c.recv(4096)
    body = b'%s:%d' % (a[0].encode(), a[1])
    c.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s' % (len(body), body)); c.close()
`;
}

/**
 * A client of {@link clientIpServer} or `agnhost netexec`: asks `ip`:`port` (TCP: HTTP, UDP: a
 * connected socket) for the client address and prints `<client ip the server saw> <peer ip:port as
 * getpeername shows it>`, or `error <name>`.
 */
export function clientIpProbe(ip: string, port: number, proto: 'tcp' | 'udp', timeoutS = 2): string {
  const ask = proto === 'tcp'
    ? `s.sendall(b'GET /clientip HTTP/1.0\\r\\n\\r\\n')
    d = b''
    while True:
        chunk = s.recv(4096)
        if not chunk: break
        d += chunk
    d = d.split(b'\\r\\n\\r\\n', 1)[1]`
    : `s.send(b'clientip'); d = s.recv(512)`;
  return `
import socket
try:
    s = socket.socket(socket.AF_INET, socket.${proto === 'tcp' ? 'SOCK_STREAM' : 'SOCK_DGRAM'}); s.settimeout(${timeoutS})
    s.connect(('${ip}', ${port}))
    p = s.getpeername()
    ${ask}
    print(d.decode().rsplit(':', 1)[0], '%s:%d' % p)
except Exception as e:
    print('error', type(e).__name__)
`;
}

/** A TCP connect to `ip:port` from inside network namespace `netns`: 'ok', or 'error <exception>'. */
export async function tcpConnect(netns: string, ip: string, port: number): Promise<string> {
  const program = `
import socket
try:
    s = socket.socket(); s.settimeout(1.5); s.connect(('${ip}', ${port})); print('ok')
except Exception as e:
    print('error', type(e).__name__)
`;
  return (await runCommand('nsenter', [`--net=${netns}`, 'python3', '-c', program])).stdout.trim();
}
