/** The local cluster's helper-command runner: the shared one in runtime/exec.ts. */
export { run } from '../runtime/exec.ts';
