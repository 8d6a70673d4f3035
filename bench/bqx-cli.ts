// The bqx command as a bench child: `node --import tsx bench/bqx-cli.ts <bqx args>`.
import { main } from '../shared/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
