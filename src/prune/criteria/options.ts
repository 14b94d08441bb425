// The criteria's options, each once: its flag, its symbol in listings, its help, how a value is
// parsed from the command line and checked. The CLI, the config schema and the score cache read
// this list and the criteria's declared defaults; none of them names an option or a criterion.

import { PruneError } from '../types.js';
import type { CriterionOptions, OptionKey, TaylorForm } from './types.js';

/** One criterion option: its flag, symbol, help and parser. */
export interface OptionSpec<K extends OptionKey> {
  key: K;
  /** The command-line flag, without `--`. */
  flag: string;
  /** Its symbol in `pai criteria` (T, K, ...). */
  symbol: string;
  /** Help text. */
  help: string;
  /** Argument name for the flag, or null for a boolean switch. */
  arg: string | null;
  /** For choices: the allowed values. */
  choices?: readonly string[];
  /**
   * The value score-cache keys leave out: the behaviour keys stood for before the option existed,
   * so that those keys stay valid. Absent: always in the key.
   */
  keyOmits?: CriterionOptions[K];
  /** Parses a command-line or config value, or throws a PruneError naming the option. */
  parse(v: unknown, where: string): CriterionOptions[K];
}

const TAYLOR_FORMS: readonly TaylorForm[] = ['paper', 'removal'];

function positiveNumber(v: unknown, where: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || !(n > 0)) throw new PruneError(`${where} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function positiveInteger(v: unknown, where: string): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new PruneError(`${where} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Every criterion option's spec, by key. */
export const OPTION_SPECS: { readonly [K in OptionKey]: OptionSpec<K> } = {
  temperature: {
    key: 'temperature', flag: 'temperature', symbol: 'T', arg: '<t>',
    help: 'divide the logits by T before the loss (default: the criterion\'s)',
    parse: positiveNumber,
  },
  probes: {
    key: 'probes', flag: 'probes', symbol: 'K', arg: '<k>',
    help: 'Rademacher probes per mask batch (default: the criterion\'s)',
    parse: positiveInteger,
  },
  sharedProbes: {
    key: 'sharedProbes', flag: 'shared-probes', symbol: 'shared', arg: null, keyOmits: false,
    help: 'share each probe across a batch of samples (cheaper; same expectation, a different, documented variance) instead of the paper\'s per-sample probes',
    parse: (v, where) => {
      if (v === true || v === 'true') return true;
      if (v === false || v === 'false') return false;
      throw new PruneError(`${where} must be true or false, got ${JSON.stringify(v)}`);
    },
  },
  taylorForm: {
    key: 'taylorForm', flag: 'taylor-form', symbol: 'form', arg: '<form>', choices: TAYLOR_FORMS, keyOmits: 'paper',
    help: 'Taylor criteria: "paper" |θ·ḡ + ½θ²·d| as the released code, or "removal" |−θ·ḡ + ½θ²·d|, the loss change of zeroing the weight',
    parse: (v, where) => {
      if (typeof v === 'string' && (TAYLOR_FORMS as readonly string[]).includes(v)) return v as TaylorForm;
      throw new PruneError(`${where} must be one of ${TAYLOR_FORMS.join(', ')}, got ${JSON.stringify(v)}`);
    },
  },
};

/** The option specs in listing order. */
export function optionSpecs(): OptionSpec<OptionKey>[] {
  return (Object.keys(OPTION_SPECS) as OptionKey[]).map((k) => OPTION_SPECS[k] as OptionSpec<OptionKey>);
}

/** How an option's value is shown in listings and file metadata. */
export function showOption(key: OptionKey, v: CriterionOptions[OptionKey]): string {
  return `${OPTION_SPECS[key].symbol}=${String(v)}`;
}
