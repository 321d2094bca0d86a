/**
 * Where `quorate serve` finds the etcd flags not on its command line, as etcd does: with a config
 * file (--config-file or ETCD_CONFIG_FILE), that file alone, the etcd flags and variables given
 * being ignored with a warning; without one, the ETCD_* variables.
 */
import type { Fallback } from '../command.js';
import type { Options } from '../options/types.js';
import { readConfigFile } from './config-file.js';
import { CONFIG_FILE_VARIABLE, etcdVariables, fromEnvironment } from './environment.js';

export function etcdFallback(options: Options, env: NodeJS.ProcessEnv): Fallback {
  return ({ given }) => {
    const flag = given.get('config-file');
    const file = typeof flag === 'string' ? flag : env[CONFIG_FILE_VARIABLE];
    if (file === undefined || file === '') return fromEnvironment(options, env, given);
    const fromFile = readConfigFile(file, options, typeof flag === 'string' ? '--config-file' : CONFIG_FILE_VARIABLE);
    // etcd reads nothing but the file then; its flags on the command line would be dropped silently.
    const ignoredFlags = [...given.keys()].filter((name) => name !== 'config-file' && options[name]?.etcd === true);
    for (const name of ignoredFlags) given.delete(name);
    const ignoredVariables = etcdVariables(env).map(([v]) => v).filter((v) => v !== CONFIG_FILE_VARIABLE);
    const warnings = [...fromFile.warnings];
    if (ignoredFlags.length > 0) warnings.push(`ignoring etcd flags given with a config file (as etcd does; set them in ${file}): ${ignoredFlags.map((n) => `--${n}`).join(', ')}`);
    if (ignoredVariables.length > 0) warnings.push(`ignoring environment variables given with a config file (as etcd does): ${ignoredVariables.sort().join(', ')}`);
    return { sources: fromFile.sources, warnings };
  };
}
