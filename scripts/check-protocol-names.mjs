#!/usr/bin/env node
// Fails the build if a file outside a protocol's own folder names the protocol. A protocol plugs
// in through its ProtocolDefinition and one entry in src/protocols/registry.ts; the driver, the
// simulator, the server and the CLI see only the definition. So adding a protocol touches its
// folder, the registry, its tests and its docs, and nothing else.
//
// Names are the protocol folders under src/protocols/ and the `name:` of each definition. etcd's
// own wire vocabulary (raft_term, raftIndex, "RAFT NO LEADER", ...) is etcd's API, not a mention
// of quorate's Raft, and is allowed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const PROTOCOLS_DIR = join(ROOT, 'src', 'protocols');
const REGISTRY = join(PROTOCOLS_DIR, 'registry.ts');
/** etcd's API names that contain a protocol's name (fields of its protobufs, texts it answers with). */
const ETCD_VOCABULARY = /\braft_term\b|\braft_index\b|\braft_applied_index\b|\braft(Index|Term|AppliedIndex)\b|RAFT NO LEADER/g;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

function stripComments(src) {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

// Each protocol folder, and the names it is known by (its folder, and its definitions' names).
const folders = readdirSync(PROTOCOLS_DIR).filter((f) => statSync(join(PROTOCOLS_DIR, f)).isDirectory());
const owners = new Map(); // name → the folder that may use it
for (const folder of folders) {
  owners.set(folder.toLowerCase(), folder);
  for (const file of walk(join(PROTOCOLS_DIR, folder))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*name:\s*'([a-z][a-z0-9-]*)'/gm)) owners.set(m[1].toLowerCase(), folder);
  }
}
const names = [...owners.keys()].sort((a, b) => b.length - a.length);
// A name as a word or as the leading part of an identifier (pbftProtocol, RaftReplica, MultiPaxos...).
const pattern = new RegExp(`(?<![A-Za-z0-9])(${names.join('|')})(?![a-z0-9])`, 'gi');

let failures = 0;
let files = 0;
for (const file of walk(join(ROOT, 'src'))) {
  if (file === REGISTRY) continue;
  files++;
  const inFolder = relative(PROTOCOLS_DIR, file).split(sep)[0];
  const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    const code = line.replace(ETCD_VOCABULARY, '');
    for (const m of code.matchAll(pattern)) {
      const owner = owners.get(m[1].toLowerCase());
      if (owner === inFolder) continue;
      failures++;
      console.error(`${relative(ROOT, file)}:${i + 1}: names the protocol '${m[1]}' outside src/protocols/${owner}/ and the registry\n    ${line.trim()}`);
    }
  });
}
if (failures > 0) {
  console.error(`protocol-name check failed: ${failures} mention(s); code outside a protocol's folder must go through its ProtocolDefinition (see docs/adding-a-protocol.md)`);
  process.exit(1);
}
console.log(`protocol-name check: ${files} files name no protocol outside its folder (${names.join(', ')})`);
