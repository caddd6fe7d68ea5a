/**
 * The star-wars demo on a local cluster: the deathstar Deployment and Service, the tiefighter and the
 * xwing; both ships land; with upstream's rule1 only the empire lands and the xwing's connection is
 * dropped in the kernel, recorded with reason and identities; with upstream's L7 rule1 the tiefighter
 * still lands but its PUT /v1/exhaust-port gets the node proxy's "Access denied"; deleting the
 * policy restores access.
 * Each ship runs curl in its own container (kubectl exec, on real kubelet nodes) against the deathstar
 * Service by its cluster DNS name (resolved by CoreDNS, translated to a backend by Ciliate at the
 * ship's socket) and against each deathstar pod directly, on both nodes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clusterConfig, podEndpoints, readFlows } from '../cluster/pods.ts';
import { clusterPaths } from '../cluster/paths.ts';
import type { FlowRecord } from '../agent/flow-log.ts';

const run = promisify(execFile);
const APP = join(import.meta.dirname, '..', 'examples', 'star-wars', 'http-sw-app.yaml');
const RULE1 = join(import.meta.dirname, '..', 'examples', 'star-wars', 'sw_l3_l4_policy.yaml');
const RULE1_L7 = join(import.meta.dirname, '..', 'examples', 'star-wars', 'sw_l3_l4_l7_policy.yaml');
/** The deathstar Service's cluster DNS name, as the ships ask for it in upstream's demo. */
const SERVICE_NAME = 'deathstar.default.svc.cluster.local';

/** What one ship got from one deathstar pod. */
export interface Landing {
  ship: string;
  deathstar: string;
  answer: string;
}

/** The outcome of each step. */
export interface DemoResult {
  withoutPolicy: Landing[];
  withRule1: Landing[];
  drops: FlowRecord[];
  /** Under the L7 rule1: the tiefighter's landing and its exhaust-port PUT, per deathstar target. */
  withL7: Landing[];
  afterDelete: Landing[];
}

/** Runs the demo on cluster `name`, printing what happens through `say`. */
export async function starWarsDemo(name: string, say: (line: string) => void = console.log, stateRoot?: string): Promise<DemoResult> {
  const config = clusterConfig(name, stateRoot);
  const env = { ...process.env, KUBECONFIG: clusterPaths(name, stateRoot).kubeconfig };
  const kubectl = async (...args: string[]) => (await run(join(config.binDir, 'kubectl'), args, { env })).stdout;

  say('» deploying the deathstar (2 replicas), the tiefighter and the xwing');
  await kubectl('apply', '-f', APP);
  await kubectl('wait', '--for=condition=Ready', 'pod', '-l', 'app.kubernetes.io/name', '--timeout=120s');
  say(await kubectl('get', 'cep', '-o', 'wide'));

  const land = async (ships = ['tiefighter', 'xwing'], request = ['-XPOST', 'request-landing']): Promise<Landing[]> => {
    const pods = podEndpoints(config);
    const out: Landing[] = [];
    for (const ship of ships) {
      const targets = [
        { address: SERVICE_NAME, label: `Service ${SERVICE_NAME}` },
        ...pods.filter((p) => p.name.startsWith('deathstar-')).map((ds) => ({ address: ds.ip, label: `${ds.name} on ${ds.node}` })),
      ];
      for (const t of targets) {
        // As upstream's demo does it: curl inside the ship's container, through kubectl exec.
        const answer = await kubectl('exec', ship, '--', 'curl', '-s', '-m', '2', request[0]!, `http://${t.address}/v1/${request[1]}`)
          .then((r) => r.trim(), () => 'no answer (connection dropped)');
        out.push({ ship, deathstar: t.label, answer });
        say(`  ${ship.padEnd(10)} ${request[0]!.slice(2)} /v1/${request[1]} -> ${t.label}: ${answer}`);
      }
    }
    return out;
  };

  say('» without policy, every ship lands');
  const withoutPolicy = await land();
  say('» applying rule1: only org=empire may reach the deathstar on port 80');
  await kubectl('apply', '-f', RULE1);
  await new Promise((r) => setTimeout(r, 500));
  const started = new Date().toISOString();
  const withRule1 = await land();
  await new Promise((r) => setTimeout(r, 300));
  const xwingIp = podEndpoints(config).find((p) => p.name === 'xwing')!.ip;
  const drops = readFlows(config).filter((f) => f.time >= started && f.verdict === 'DROPPED' && f.srcIp === xwingIp);
  say('» drops recorded by the datapath (ciliate observe --verdict DROPPED --pod default/xwing):');
  for (const d of drops) say(`  ${d.node}: ${d.srcIp}:${d.srcPort} (ID:${d.srcIdentity}) -> ${d.dstIp}:${d.dstPort} (ID:${d.dstIdentity}) ${d.dropReasonDesc} (reason ${d.dropReason})`);
  say('» applying the L7 rule1: the empire may only POST /v1/request-landing (HTTP through each node\'s proxy)');
  await kubectl('apply', '-f', RULE1_L7);
  await new Promise((r) => setTimeout(r, 1000));
  const withL7 = [...await land(['tiefighter']), ...await land(['tiefighter'], ['-XPUT', 'exhaust-port'])];
  say('» deleting rule1 restores access');
  await kubectl('delete', '-f', RULE1);
  await new Promise((r) => setTimeout(r, 500));
  const afterDelete = await land();
  return { withoutPolicy, withRule1, drops, withL7, afterDelete };
}
