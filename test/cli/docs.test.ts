/**
 * docs/cli.md is made from the option declarations: this fails when someone changes an option
 * and forgets to regenerate it (`npm run build && node scripts/cli-docs.mjs`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cliDoc } from '../../src/cli/docs.js';
import { COMMANDS } from '../../src/cli/registry.js';

test('docs/cli.md is what the declarations render (regenerate: node scripts/cli-docs.mjs)', () => {
  const committed = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
  assert.equal(committed, cliDoc(COMMANDS));
});

test('docs/cli.md documents every command, every option and every exit code', () => {
  const doc = cliDoc(COMMANDS);
  for (const c of COMMANDS) {
    assert.match(doc, new RegExp(`## quorate ${c.name}\\n`));
    for (const name of Object.keys(c.options)) assert.ok(doc.includes(`\`--${name}\``), `${c.name} --${name}`);
    assert.ok(c.exitCodes.some(([code]) => code === 3), `${c.name} documents exit code 3`);
  }
});
