/** `ciliate cluster up | down | status | kubeconfig | env`. */
import { ClusterRunningError, down, kubeconfigPath, status, up } from '../cluster/cluster.ts';
import { clusterPaths } from '../cluster/paths.ts';
import { readJson, type ClusterConfig } from '../cluster/config.ts';
import { join } from 'node:path';
import { hubbleServer } from '../cluster/hubble-server.ts';
import { builtToolchain } from '../cluster/toolchain.ts';
import { flag, type Args } from './args.ts';

/** Usage text of the cluster command. */
export const CLUSTER_USAGE = `usage: ciliate cluster <up|down|status|kubeconfig|env> [--name NAME] [--nodes N] [--runtime kubelet|runner] [--install process|helm]
  up          build (first time) and start a local control plane; prints the kubeconfig path;
              --nodes N also runs N nodes, each a network namespace with its own containerd, kubelet
              and Ciliate agent (--runtime runner: the stand-in node runner instead of containerd and kubelet);
              the ciliate-operator runs too unless --no-operator; with kubelet nodes Ciliate is installed
              as users install it (--install helm, the default): its images are built (or reused) and
              imported into every node, and helm install of charts/ciliate runs the agents and the
              operator as pods in kube-system; --install process runs them as host processes instead
  down        stop it and remove every process, file and link it made
  status      show each component, with the log of any that died
  kubeconfig  print the admin kubeconfig path
  env         print shell exports (KUBECONFIG, PATH with kubectl and helm, and hubble with
              HUBBLE_SERVER at the cluster's Hubble Relay once build.sh hubble has built it)`;

/** Runs the cluster command; returns the exit code. */
export async function clusterCommand(args: Args): Promise<number> {
  const name = flag(args, 'name');
  const sub = args.words[1];
  switch (sub) {
    case 'up': {
      try {
        const nodes = flag(args, 'nodes');
        const runtime = flag(args, 'runtime');
        if (runtime !== undefined && runtime !== 'kubelet' && runtime !== 'runner') throw new Error(`--runtime must be kubelet or runner, not "${runtime}"`);
        const install = flag(args, 'install');
        if (install !== undefined && install !== 'process' && install !== 'helm') throw new Error(`--install must be process or helm, not "${install}"`);
        const nodeCount = nodes === undefined ? 0 : Number(nodes);
        // Users get Ciliate the way users install it; the tests' clusters (up() itself) default to host processes.
        const mode = install ?? (nodeCount > 0 && runtime !== 'runner' ? 'helm' : undefined);
        const c = await up({ name, nodes: nodeCount, operator: !args.flags.has('no-operator'), ...(runtime ? { runtime } : {}), ...(mode ? { install: mode } : {}) });
        process.stderr.write(`cluster "${c.name}" is up; use it with:\n  export KUBECONFIG=${c.kubeconfig}\n`);
        console.log(c.kubeconfig);
        return 0;
      } catch (err) {
        if (err instanceof ClusterRunningError) {
          console.error(err.message);
          return 1;
        }
        throw err;
      }
    }
    case 'down':
      if (!(await down({ name }))) console.error(`cluster "${name ?? 'ciliate'}" is not running`);
      return 0;
    case 'status': {
      const s = await status({ name });
      console.log(s.text);
      return s.running ? 0 : 1;
    }
    case 'kubeconfig':
      console.log(kubeconfigPath({ name }));
      return 0;
    case 'env': {
      const config = readJson<ClusterConfig>(join(clusterPaths(name ?? 'ciliate').dir, 'config.json'));
      if (!config) {
        console.error(`cluster "${name ?? 'ciliate'}" is not running`);
        return 1;
      }
      // The upstream hubble CLI, when built (build.sh hubble), talks to the cluster's relay (older
      // clusters without one: the first node's agent).
      const hubble = config.nodes?.length ? await builtToolchain('hubble').catch(() => undefined) : undefined;
      const path = [config.binDir, ...(hubble ? [hubble] : [])].join(':');
      console.log(`export KUBECONFIG=${kubeconfigPath({ name })}\nexport PATH=${path}:$PATH`);
      if (hubble) console.log(`export HUBBLE_SERVER=${hubbleServer(config)}`);
      return 0;
    }
    default:
      console.error(CLUSTER_USAGE);
      return 2;
  }
}
