/**
 * What a command declares about each of its options, once: parsing, `--help`, docs/cli.md and the
 * shell completions are all made from these declarations, so they cannot drift apart.
 */

interface OptionBase {
  /** One line (or a few) for `--help` and docs/cli.md. */
  readonly help: string;
  /** The value's name in usage text (NAME, FILE, DIR, MS...); FILE and DIR also pick the shell's file completion. */
  readonly placeholder?: string;
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** How the default reads when it is not a plain value ("NAME.etcd", "the listen client URLs"). */
  readonly defaultText?: string;
  /**
   * `quorate serve` only: this is also an etcd flag, so it is read from etcd's ETCD_* environment
   * variable, and an etcd --config-file replaces it as it replaces etcd's flags. Quorate's own
   * flags are not read from ETCD_* variables (an etcd deployment's environment has nothing to say
   * about them); they may be keys of the config file (docs/cli.md), unless `commandLineOnly`.
   */
  readonly etcd?: boolean;
  /** Where etcd's config file keeps it when that is not the flag's name (`client-transport-security.cert-file`). */
  readonly configKey?: string;
  /**
   * `quorate serve` only: taken from the command line alone. A config file that sets it is refused
   * (a test-only switch that breaks safety, or a trials-only one that gives up security, must never
   * ride in unseen with a deployment's settings: on the command line it shows in `ps` and in the log).
   */
  readonly commandLineOnly?: boolean;
}

export interface StringOption extends OptionBase {
  readonly type: 'string';
  readonly default?: string;
  /** The only values accepted; anything else is bad input. */
  readonly choices?: readonly string[];
  /** Values offered by shell completion without restricting what is accepted. */
  readonly suggestions?: readonly string[];
  /** Repeatable: every occurrence is kept, in order. */
  readonly multiple?: boolean;
}

export interface IntegerOption extends OptionBase {
  readonly type: 'integer';
  readonly default?: number;
  readonly min: number;
  readonly max?: number;
}

/**
 * A duration as etcd writes one (Go's time.ParseDuration: `500ms`, `1m30s`, `1.5h`), parsed to
 * whole milliseconds. Never negative; zero only when `zero` says what it means (`0s: off`).
 */
export interface DurationOption extends OptionBase {
  readonly type: 'duration';
  /** As written, e.g. "10m". */
  readonly default?: string;
  /** Zero is accepted (it switches the feature off); otherwise the duration must be positive. */
  readonly zero?: boolean;
}

/** A flag without a value (`--trace`); `--flag=true|false` also works, as etcd's flags allow. */
export interface BooleanOption extends OptionBase {
  readonly type: 'boolean';
}

export type OptionSpec = StringOption | IntegerOption | DurationOption | BooleanOption;
export type Options = Readonly<Record<string, OptionSpec>>;

type ValueOf<S> = S extends { type: 'boolean' } ? boolean
  : S extends { type: 'integer' } | { type: 'duration' } ? number
  : S extends { multiple: true } ? string[]
  : string;
type AlwaysSet<S> = S extends { type: 'boolean' } | { multiple: true } | { default: string | number } ? true : false;

/** The parsed values: an option without a default is `undefined` when not given. */
export type Values<O extends Options> = {
  -readonly [K in keyof O]: AlwaysSet<O[K]> extends true ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

/** A value as it arrives, before checking: from the command line, a variable or a config file. */
export type RawValue = string | boolean | string[];

/** Where a value came from, as the error message names it. */
export interface Sourced {
  readonly value: RawValue;
  /** `--nodes`, `ETCD_NAME`, `name in etcd.yml`... */
  readonly label: string;
}
