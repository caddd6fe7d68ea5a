// The bundles' source is pure ASCII (V8 then holds it one byte per character) without changing
// what it means: escapes in strings, templates and regular expressions are the same characters.
import { expect } from 'chai';
import { asciiSource } from '../../images/bundles.ts';

describe('bundle source encoding', () => {
  it('escapes every character outside ASCII, keeping what the code means', () => {
    const source = "// response’s type → x\nexport default ['réponse’s', `a→b`, /é+/.test('éé'), '\u{1F600}'];";
    const ascii = asciiSource(source);
    expect([...ascii].every((c) => c.charCodeAt(0) < 0x80)).to.equal(true);
    expect(ascii).to.include('// response\\u2019s type \\u2192 x');
    const values = (s: string) => new Function(s.replace('export default', 'return'))() as unknown[];
    expect(values(ascii)).to.deep.equal(values(source));
  });

  it('leaves ASCII source as it is', () => {
    const source = "const a = 'plain';\n";
    expect(asciiSource(source)).to.equal(source);
  });
});
