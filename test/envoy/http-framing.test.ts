// The HTTP proxy's framer on bytes alone: message heads (limits, malformed input, what they say
// about the body and the connection) and bodies by length and chunks, whole or split anywhere.
import { expect } from 'chai';
import { BodyReader, type BodyFraming } from '../../envoy/http/body-framing.ts';
import { HeadError, headEnd, MAX_HEAD_BYTES, parseRequestHead, parseResponseHead } from '../../envoy/http/message-head.ts';
import { requestHeaders } from '../../envoy/http/request-headers.ts';

const request = (text: string) => {
  const buf = Buffer.from(text, 'latin1');
  const end = headEnd(buf, 0);
  if (end < 0) throw new Error('incomplete');
  return parseRequestHead(buf, 0, end);
};
const response = (text: string, method = 'GET') => {
  const buf = Buffer.from(text, 'latin1');
  return parseResponseHead(buf, 0, headEnd(buf, 0), method);
};
const status = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof HeadError) return err.status;
    throw err;
  }
  return 0;
};

/** How many bytes of `text` the body takes, fed in pieces of `step` bytes. */
function bodyLength(framing: BodyFraming, text: string, step: number): { used: number; done: boolean } {
  const r = new BodyReader(framing);
  const buf = Buffer.from(text, 'latin1');
  let used = 0;
  for (let at = 0; at < buf.length && !r.done; at += step) {
    const piece = buf.subarray(at, Math.min(buf.length, at + step));
    const n = r.consume(piece, 0);
    used += n;
    if (n < piece.length) break;
  }
  return { used, done: r.done };
}

describe('envoy/http: request heads', () => {
  it('reads the request line, header fields as sent and the body framing', () => {
    const h = request('POST /v1/x?a=1 HTTP/1.1\r\nHost: deathstar\r\nX-Team:  empire \r\nContent-Length: 5\r\n\r\nhello');
    expect(h).to.deep.include({ method: 'POST', target: '/v1/x?a=1', minor: 1, keepAlive: true, expectContinue: false, upgrade: false });
    expect(h.rawHeaders).to.deep.equal(['Host', 'deathstar', 'X-Team', 'empire', 'Content-Length', '5']);
    expect(h.framing).to.deep.equal({ kind: 'length', length: 5 });
    expect(request('GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').framing).to.deep.equal({ kind: 'chunked' });
    expect(request('GET / HTTP/1.1\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
  });

  it('tells whether the connection stays open, Expect: 100-continue and upgrades', () => {
    expect(request('GET / HTTP/1.1\r\nConnection: close\r\n\r\n').keepAlive).to.equal(false);
    expect(request('GET / HTTP/1.0\r\n\r\n').keepAlive).to.equal(false);
    expect(request('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).to.equal(true);
    expect(request('PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n').expectContinue).to.equal(true);
    expect(request('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade).to.equal(true);
    expect(request('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n').upgrade, 'without Connection: upgrade').to.equal(false);
  });

  it('refuses malformed heads with 400', () => {
    for (const bad of [
      'NOT HTTP AT ALL\r\n\r\n', 'GET / HTTP/2.0\r\n\r\n', 'GET  / HTTP/1.1\r\n\r\n', 'GET / HTTP/1.1\r\nNo colon\r\n\r\n',
      'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n', 'GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n', 'GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n', 'GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n',
      'GET /\x01 HTTP/1.1\r\n\r\n',
    ]) expect(status(() => request(bad)), JSON.stringify(bad)).to.equal(400);
    expect(status(() => headEnd(Buffer.from('GET / HTTP/1.1\nHost: a\n'), 0)), 'lines without CR').to.equal(400);
  });

  it('refuses an oversized head with 431, complete or not', () => {
    const big = `GET / HTTP/1.1\r\nX-Big: ${'x'.repeat(MAX_HEAD_BYTES)}\r\n`;
    expect(status(() => headEnd(Buffer.from(big), 0))).to.equal(431);
    expect(status(() => headEnd(Buffer.from(big + '\r\n'), 0))).to.equal(431);
    expect(headEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 0), 'incomplete').to.equal(-1);
  });

  it('finds pipelined heads one after another', () => {
    const buf = Buffer.from('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n');
    const first = headEnd(buf, 0);
    expect(parseRequestHead(buf, first, headEnd(buf, first)).target).to.equal('/b');
  });

  it('presents header fields by lower-case name as the rules read them', () => {
    expect(requestHeaders(['Host', 'a', 'host', 'b', 'X-T', '1', 'x-t', '2', 'Cookie', 'c=1', 'cookie', 'd=2'])).to.deep.equal({ host: 'a', 'x-t': '1, 2', cookie: 'c=1; d=2' });
  });
});

describe('envoy/http: response heads', () => {
  it('reads the status and where the body ends', () => {
    expect(response('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n')).to.deep.include({ status: 200, keepAlive: true, framing: { kind: 'length', length: 3 } });
    expect(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').framing).to.deep.equal({ kind: 'chunked' });
    expect(response('HTTP/1.1 200 OK\r\n\r\n')).to.deep.include({ framing: { kind: 'close' }, keepAlive: false });
    expect(response('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')).to.deep.include({ framing: { kind: 'none' }, keepAlive: false });
  });

  it('knows that HEAD answers, 1xx, 204 and 304 have no body', () => {
    expect(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD').framing).to.deep.equal({ kind: 'none' });
    for (const s of ['100 Continue', '204 No Content', '304 Not Modified']) expect(response(`HTTP/1.1 ${s}\r\n\r\n`)).to.deep.include({ framing: { kind: 'none' }, keepAlive: true });
  });

  it('refuses a broken status line', () => {
    expect(status(() => response('HTTP/1.1 OK\r\n\r\n'))).to.equal(400);
  });
});

describe('envoy/http: bodies', () => {
  const chunked = '5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n';

  it('follow a declared length and stop there (the next request follows)', () => {
    for (const step of [1, 3, 100]) expect(bodyLength({ kind: 'length', length: 5 }, 'helloGET / HTTP/1.1', step)).to.deep.equal({ used: 5, done: true });
    expect(new BodyReader({ kind: 'none' }).done).to.equal(true);
  });

  it('follow chunks, extensions and trailers, split anywhere', () => {
    for (const step of [1, 2, 7, 1000]) expect(bodyLength({ kind: 'chunked' }, chunked + 'NEXT', step), `pieces of ${step}`).to.deep.equal({ used: chunked.length, done: true });
    expect(bodyLength({ kind: 'chunked' }, '0\r\n\r\n', 1)).to.deep.equal({ used: 5, done: true });
  });

  it('take everything until the connection ends when the body is close-delimited', () => {
    expect(bodyLength({ kind: 'close' }, 'all of it', 4)).to.deep.equal({ used: 9, done: false });
  });

  it('refuse malformed chunks', () => {
    for (const bad of ['x\r\n', '5\r\nhello!\r\n', '5\nhello', `${'f'.repeat(13)}\r\n`]) expect(() => bodyLength({ kind: 'chunked' }, bad, 100), bad).to.throw();
  });
});
