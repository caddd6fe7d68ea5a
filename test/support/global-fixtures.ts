/** Mocha global fixtures: whatever the run started is torn down at its end, pass or fail. */
import { teardownTestCluster } from './cluster.ts';

/** Runs once after all tests. */
export async function mochaGlobalTeardown(): Promise<void> {
  await teardownTestCluster();
}
