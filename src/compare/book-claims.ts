/**
 * The book's claims, read from docs/book-claims.md (one table row per claim: number, topic, claim).
 * Kept as a document, not as code: the claims name protocols, and only their own folders may.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BookClaim {
  readonly id: number;
  readonly topic: string;
  readonly claim: string;
}

/** docs/book-claims.md, from this module (src/compare/ or dist/src/compare/). */
export function bookClaimsPath(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = here.includes('/dist/src/') ? new URL('../../../', import.meta.url) : new URL('../../', import.meta.url);
  return fileURLToPath(new URL('docs/book-claims.md', root));
}

export function parseBookClaims(markdown: string): BookClaim[] {
  const out: BookClaim[] = [];
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$/.exec(line);
    if (m !== null) out.push({ id: Number(m[1]), topic: m[2]!, claim: m[3]! });
  }
  return out;
}

export function readBookClaims(path = bookClaimsPath()): BookClaim[] {
  const claims = parseBookClaims(readFileSync(path, 'utf8'));
  if (claims.length === 0) throw new Error(`no claims in ${path}`);
  return claims;
}
