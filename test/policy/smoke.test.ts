import { expect } from 'chai';
import { ID, connect, engineWith } from './support/world.ts';

describe('policy engine smoke', () => {
  it('allows everything without policies', () => {
    const e = engineWith([]);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('OK');
  });
});
