/** Small python3 programs tests run inside pod namespaces: an echo server and a long-lived echo client. */

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
