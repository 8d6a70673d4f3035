// Command-line parsing: positional words and --flags (`--name value`, `--name=value`, `--flag`).

import { InputError } from '../naming.js';

export interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
  /** Every value of a flag given more than once (`--gate a --gate b`), in order. */
  repeated: Map<string, string[]>;
}

/** Value options that may be given more than once, each value kept (`--gate a --gate b`). */
const REPEATABLE: ReadonlySet<string> = new Set(['gate']);
/** Value options that take a comma-separated list: the message for one given twice says so. */
const LISTS: ReadonlySet<string> = new Set(['include', 'exclude', 'labels', 'drop', 'features', 'pairs', 'touch']);

/**
 * Parses argv; an option in neither set is refused, naming it, and so is a value option given
 * twice that is not REPEATABLE: taking the last (`--include 'agg_*' --include 'mom_*'`) silently
 * dropped the first.
 */
export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string>, valueFlags: ReadonlySet<string>): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const repeated = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (booleanFlags.has(name)) {
        if (inline !== undefined) throw new InputError(`--${name} takes no value`);
        flags.set(name, true);
      } else if (valueFlags.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined || value.startsWith('--')) throw new InputError(`--${name} needs a value`);
        const earlier = flags.get(name);
        if (typeof earlier === 'string' && !REPEATABLE.has(name)) {
          throw new InputError(`--${name} is given twice (${JSON.stringify(earlier)} and ${JSON.stringify(value)}): give it once${LISTS.has(name) ? ', as one comma-separated list' : ''}`);
        }
        flags.set(name, value);
        repeated.set(name, [...(repeated.get(name) ?? []), value]);
      } else {
        throw new InputError(`unknown option --${name}`);
      }
    } else if (arg === '-h') {
      flags.set('help', true);
    } else {
      positional.push(arg);
    }
  }
  return { command: positional.shift() ?? 'help', positional, flags, repeated };
}

export function stringFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function intFlag(args: Args, name: string, min: number, max: number): number | undefined {
  const v = stringFlag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InputError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function checkFlags(args: Args, allowed: readonly string[]): void {
  for (const name of args.flags.keys()) {
    if (!allowed.includes(name)) throw new InputError(`unknown option --${name} for "${args.command}" (options: ${allowed.map((a) => `--${a}`).join(' ')})`);
  }
}
