/** What every list of mutants (a protocol's, the driver's, the storage's) shares. */

/** Throw unless `name` is one of `list`'s mutants (`kind` names the list in the message). */
export function assertListedMutant<N extends string>(list: readonly { readonly name: N }[], kind: string, name: string): asserts name is N {
  if (!list.some((m) => m.name === name)) {
    throw new Error(`unknown ${kind} mutant '${name}'; known: ${list.map((m) => m.name).join(', ')}`);
  }
}
