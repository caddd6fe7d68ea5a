// The generated codecs agree with the BTF of the compiled object (sizes and every field offset),
// round-trip, and keep byte order where C says network order.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { ObjectBtf, rodataOffsets } from '../../tools/btf.ts';
import { SHARED_STRUCTS } from '../../tools/btf2ts.ts';
import * as gen from '../../datapath/codecs/generated.ts';
import { ENDPOINT_OBJECT } from '../../datapath/loader.ts';
import { ipcacheKey, ipcacheKeyCidr } from '../../datapath/maps/ipcache.ts';

type Layout = { size: number; fields: Record<string, { offset: number; size: number }> };

describe('codecs vs BTF', function () {
  let btf: ObjectBtf;

  before(function () {
    if (!existsSync(ENDPOINT_OBJECT)) {
      console.log('      skipped: BPF object not built (npm run build:datapath)');
      this.skip();
    }
    btf = ObjectBtf.fromObject(ENDPOINT_OBJECT);
  });

  for (const name of SHARED_STRUCTS) {
    it(`struct ${name}: size and offsets match`, function () {
      const layout = (gen as unknown as Record<string, Layout>)[`${name.toUpperCase()}_LAYOUT`];
      expect(layout, `${name} layout exported`).to.not.equal(undefined);
      const s = btf.struct(name);
      expect(layout!.size).to.equal(s.size);
      expect(Object.keys(layout!.fields)).to.deep.equal(s.fields.map((f) => f.name));
      for (const f of s.fields) expect(layout!.fields[f.name], `${name}.${f.name}`).to.deep.equal({ offset: f.offset, size: f.size });
      const codec = (gen as unknown as Record<string, { size: number }>)[`${name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())}Codec`];
      expect(codec?.size).to.equal(s.size);
    });
  }

  it('load-time constant offsets match the symbol table', function () {
    expect(rodataOffsets(ENDPOINT_OBJECT).get('ciliate_config')).to.equal(gen.RODATA_OFFSETS.ciliate_config);
  });

  it('encodes network-order fields big-endian and round-trips', function () {
    const key = { prefixlen: 64, secLabel: 0x01020304, egress: 1, protocol: 6, dport: 8080 };
    const buf = gen.policyKeyCodec.encode(key);
    expect(buf.toString('hex')).to.equal('40000000' + '04030201' + '01' + '06' + '1f90');
    expect(gen.policyKeyCodec.decode(buf)).to.deep.equal(key);
    const k = ipcacheKey('10.1.2.3/24');
    expect(ipcacheKeyCidr(k)).to.equal('10.1.2.0/24');
    expect(gen.ipcacheKeyCodec.encode(k).subarray(8, 12).toString('hex')).to.equal('0a010200');
  });
});
