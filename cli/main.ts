/** The ciliate command-line tool. */
import { parseArgs } from './args.ts';
import { clusterCommand, CLUSTER_USAGE } from './cluster-command.ts';

const USAGE = `usage: ciliate <command> ...
commands:
${CLUSTER_USAGE.replace(/^usage: ciliate /, '  ')}`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['name', 'nodes']);
  switch (args.words[0]) {
    case 'cluster':
      return clusterCommand(args);
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
