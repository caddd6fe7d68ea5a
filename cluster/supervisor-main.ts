/** Entry point of a cluster's supervisor process: `supervisor-main.ts <cluster folder>`. */
import { superviseCluster } from './supervisor.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: supervisor-main.ts <cluster folder>');
  process.exit(2);
}
superviseCluster(dir).catch((err) => {
  console.error(`supervisor: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
