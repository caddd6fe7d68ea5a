// The spare endpoint slot pool: refills in the background up to its size, hands out ready slots
// first, makes one on the spot when empty, and survives a failing maker.
import { expect } from 'chai';
import { EndpointSlotPool, isSpareKey, SPARE_KEY_PREFIX, type EndpointSlot } from '../../agent/endpoint-slots.ts';
import { nopLogger } from '../../runtime/logger.ts';

const turn = () => new Promise((r) => setImmediate(r));

describe('endpoint slot pool', () => {
  let made = 0;
  let failNext = false;
  const make = (): EndpointSlot => {
    if (failNext) {
      failNext = false;
      throw new Error('no memory');
    }
    made++;
    return { spareKey: `${SPARE_KEY_PREFIX}${made}`, id: made, maps: {} as EndpointSlot['maps'] };
  };
  beforeEach(() => {
    made = 0;
    failNext = false;
  });

  it('fills up to its size in the background, one slot per turn', async () => {
    const pool = new EndpointSlotPool({ size: 3, make, log: nopLogger });
    pool.refill();
    expect(pool.spare).to.equal(0);
    for (let i = 0; i < 5; i++) await turn();
    expect(pool.spare).to.equal(3);
    expect(made).to.equal(3);
    pool.close();
  });

  it('hands out ready slots in order, makes one when empty, and refills after each take', async () => {
    const pool = new EndpointSlotPool({ size: 1, make, log: nopLogger });
    pool.adopt({ spareKey: '#spare-old', id: 42, maps: {} as EndpointSlot['maps'] });
    expect(pool.take().id).to.equal(42);
    expect(pool.take().id).to.equal(1); // made on the spot
    for (let i = 0; i < 3; i++) await turn();
    expect(pool.spare).to.equal(1);
    expect(pool.close().map((s) => s.id)).to.deep.equal([2]);
  });

  it('keeps working when making a spare fails, and stops refilling once closed', async () => {
    const pool = new EndpointSlotPool({ size: 2, make, log: nopLogger });
    failNext = true;
    pool.refill();
    await turn();
    expect(pool.spare).to.equal(0);
    expect(pool.take().id).to.equal(1);
    pool.close();
    for (let i = 0; i < 3; i++) await turn();
    expect(pool.spare).to.equal(0);
  });

  it('tells spare keys from endpoint keys', () => {
    expect(isSpareKey(`${SPARE_KEY_PREFIX}3`)).to.equal(true);
    expect(isSpareKey('abc123/eth0')).to.equal(false);
  });
});
