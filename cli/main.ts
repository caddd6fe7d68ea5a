/** The ciliate command-line tool. */
import { parseArgs } from './args.ts';
import { clusterCommand, CLUSTER_USAGE } from './cluster-command.ts';
import { execCommand, POD_USAGE } from './pod-commands.ts';
import { observeCommand, OBSERVE_USAGE } from './observe.ts';
import { flag } from './args.ts';
import { bpfErrorsCommand, bpfLbListCommand, serviceListCommand, SERVICE_USAGE } from './service-commands.ts';
import { policyGetCommand, policyWaitCommand, POLICY_USAGE } from './policy-commands.ts';
import { starWarsDemo } from '../demo/star-wars.ts';
import { DEFAULT_CLUSTER } from '../cluster/paths.ts';

const USAGE = `usage: ciliate <command> ...
commands:
${CLUSTER_USAGE.replace(/^usage: ciliate /, '  ')}
${POD_USAGE}
${OBSERVE_USAGE}
${SERVICE_USAGE}
${POLICY_USAGE}
  demo [--name C]                            the star-wars demo on a cluster started with --nodes 2`;

async function main(argv: string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  const command = dashes >= 0 ? argv.slice(dashes + 1) : [];
  const args = parseArgs(dashes >= 0 ? argv.slice(0, dashes) : argv, ['name', 'nodes', 'runtime', 'install', 'verdict', 'pod', 'last', 'node', 'namespace', 'server', 'timeout', 'type']);
  switch (args.words[0]) {
    case 'cluster':
      return clusterCommand(args);
    case 'exec':
      return execCommand(args, command);
    case 'observe':
      return observeCommand(args);
    case 'service':
      if (args.words[1] !== 'list') throw new Error('usage: ciliate service list [--node N]');
      return serviceListCommand(args);
    case 'bpf':
      if (args.words[1] === 'errors') return bpfErrorsCommand(args);
      if (args.words[1] !== 'lb' || args.words[2] !== 'list') throw new Error('usage: ciliate bpf lb list [--node N] | ciliate bpf errors [--node N]');
      return bpfLbListCommand(args);
    case 'policy':
      if (args.words[1] === 'get') return policyGetCommand(args);
      if (args.words[1] === 'wait') return policyWaitCommand(args);
      throw new Error('usage: ciliate policy get [--node N] | ciliate policy wait REV [--node N] [--timeout S]');
    case 'demo':
      await starWarsDemo(flag(args, 'name') ?? DEFAULT_CLUSTER);
      return 0;
    case undefined:
    case 'help':
      console.log(USAGE);
      return args.words[0] ? 0 : 2;
    default:
      console.error(`unknown command "${args.words[0]}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`ciliate: ${(err as Error).message}`);
    process.exit(1);
  },
);
