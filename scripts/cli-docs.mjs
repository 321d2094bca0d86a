#!/usr/bin/env node
// Writes docs/cli.md from the commands' option declarations (run `npm run build` first);
// test/cli/docs.test.ts fails when the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { cliDoc } from '../dist/src/cli/docs.js';
import { COMMANDS } from '../dist/src/cli/registry.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), cliDoc(COMMANDS));
console.log('wrote docs/cli.md');
