// Log lines carry the level by name, so `jq 'select(.level == "warn")'` and journald readers need
// no table of pino's numbers; the configured level still filters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from '../src/control/logger.js';

test('levels are written by name, and lines below the level are left out', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); done(); } });
  const log = createLogger('info', sink);
  log.debug('not written');
  log.info({ service: 'web' }, 'ready');
  log.warn('server down');
  log.error('reload refused');
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(parsed.map((l) => [l.level, l.msg]), [['info', 'ready'], ['warn', 'server down'], ['error', 'reload refused']]);
  assert.equal(parsed[0]!.svc, 'las');
  assert.equal(parsed[0]!.service, 'web');
  assert.match(String(parsed[0]!.time), /^\d{4}-\d\d-\d\dT/);
  log.level = 'debug'; // a reload may lower the level
  log.debug('now written');
  assert.equal((JSON.parse(lines.at(-1)!) as { level: string }).level, 'debug');
});
