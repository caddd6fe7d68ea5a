/** Assertions about configuration errors (agent and operator settings). */
import { expect } from 'chai';
import { ConfigError } from '../../runtime/settings.ts';

/** Expects `fn` to throw a ConfigError naming `setting` (and its message to match `reason`, if given). */
export function expectConfigError(fn: () => unknown, setting: string, reason?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).setting).to.equal(setting);
    expect((err as Error).message).to.contain(setting);
    if (reason) expect((err as Error).message).to.match(reason);
    return;
  }
  expect.fail(`expected a ConfigError naming ${setting}`);
}
