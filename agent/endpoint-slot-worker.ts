/**
 * Worker thread that prepares spare endpoint slots away from the agent's event loop. Creating an
 * endpoint's maps and registering them in the shared programs' outer maps block in the kernel (RCU
 * grace periods) for tens of milliseconds; on the main thread that would hold up every CNI request
 * during a burst of pods. Receives a {@link SlotJob}, answers a {@link SlotDone}.
 */
import { parentPort } from 'node:worker_threads';
import { closeEndpointMaps, loadEndpointMaps, openOuterMaps, registerEndpointMaps, type EndpointMaps } from '../datapath/loader.ts';
import type { SlotDone, SlotJob } from './endpoint-slot-preparer.ts';

const outers = new Map<string, EndpointMaps['outer']>();

parentPort?.on('message', (job: SlotJob) => {
  let done: SlotDone;
  try {
    const outer = outers.get(job.pinRoot) ?? openOuterMaps(job.pinRoot);
    outers.set(job.pinRoot, outer);
    const own = loadEndpointMaps(job.id, { pinRoot: job.pinRoot, maxEntries: job.maxEntries });
    try {
      registerEndpointMaps({ outer }, job.id, own);
    } finally {
      closeEndpointMaps(own);
    }
    done = { id: job.id };
  } catch (err) {
    done = { id: job.id, error: (err as Error).message };
  }
  parentPort?.postMessage(done);
});
