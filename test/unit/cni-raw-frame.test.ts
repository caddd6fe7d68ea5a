// The raw framing of the native relay's requests (cni/raw-frame.ts): telling it from a JSON line by
// its first bytes, decoding the header and stdin, refusing frames that are malformed or cut short.
import { expect } from 'chai';
import fc from 'fast-check';
import { isRawFrame, parseRawFrame, rawAnswer, RAW_ENV_KEYS, RAW_MAGIC } from '../../cni/raw-frame.ts';
import { CniError } from '../../cni/spec.ts';

/** A frame as the relay writes it. */
const frame = (env: [string, string][], stdin: string) =>
  Buffer.from(`ciliate-cni-raw 1\n${env.map(([k, v]) => `${k}=${v}\n`).join('')}\n${stdin}`);

const decodeError = (f: Buffer) => {
  try {
    parseRawFrame(f);
  } catch (err) {
    expect(err).to.be.instanceOf(CniError);
    return err as CniError;
  }
  throw new Error(`${JSON.stringify(f.toString())} was accepted`);
};

describe('CNI raw framing', () => {
  it('tells a raw request from a JSON line by its first bytes, waiting while they are a prefix', () => {
    expect(isRawFrame(Buffer.from(''))).to.equal(undefined);
    expect(isRawFrame(Buffer.from('ciliate-cni'))).to.equal(undefined);
    expect(isRawFrame(RAW_MAGIC)).to.equal(true);
    expect(isRawFrame(Buffer.from('ciliate-cni-raw 1\nCNI_COMMAND=ADD\n'))).to.equal(true);
    expect(isRawFrame(Buffer.from('{"command":"ADD"}\n'))).to.equal(false);
    expect(isRawFrame(Buffer.from('ciliate-cni-raw 2\n'))).to.equal(false);
  });

  it('decodes the forwarded variables and the stdin bytes as they were', () => {
    const stdin = '{"name":"ciliaté ☃"}\n\nKEY=VALUE\n';
    expect(parseRawFrame(frame([['CNI_COMMAND', 'ADD'], ['CNI_ARGS', 'A=1;B=x=y'], ['CNI_NETNS', '']], stdin))).to.deep.equal({
      env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=x=y', CNI_NETNS: '' },
      stdin,
    });
    expect(parseRawFrame(frame([], ''))).to.deep.equal({ env: {}, stdin: '' });
  });

  it('reads back any frame the relay can write', () => {
    const value = fc.string({ unit: 'grapheme' }).filter((v) => !v.includes('\n'));
    const env = fc.uniqueArray(fc.tuple(fc.constantFrom(...RAW_ENV_KEYS), value), { selector: ([k]) => k });
    fc.assert(fc.property(env, fc.string({ unit: 'grapheme' }), (pairs, stdin) => {
      expect(parseRawFrame(frame(pairs, stdin))).to.deep.equal({ env: Object.fromEntries(pairs), stdin });
    }));
  });

  it('refuses malformed and cut-short frames with code 6', () => {
    const bad = [
      Buffer.from('{"command":"ADD"}\n'),
      Buffer.from('ciliate-cni-raw 1'),
      Buffer.from('ciliate-cni-raw 1\nCNI_COMMAND=ADD\n'),
      Buffer.from('ciliate-cni-raw 1\nCNI_COMMAND=AD'),
      Buffer.from('ciliate-cni-raw 1\nPATH=/bin\n\n{}'),
      Buffer.from('ciliate-cni-raw 1\nCNI_COMMAND\n\n{}'),
      Buffer.from('ciliate-cni-raw 1\nCNI_COMMAND=ADD\nCNI_COMMAND=DEL\n\n{}'),
    ];
    for (const f of bad) expect(decodeError(f).code, f.toString()).to.equal(6);
  });

  it('answers with the exit code, a newline and stdout', () => {
    expect(rawAnswer({ exitCode: 0, stdout: '' })).to.equal('0\n');
    expect(rawAnswer({ exitCode: 1, stdout: '{"code":7}\n' })).to.equal('1\n{"code":7}\n');
  });
});
