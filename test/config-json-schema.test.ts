// The editors' JSON Schema (deploy/las.schema.json) is generated from the zod schema the daemon
// uses, is not stale, and agrees with `las check` on every config we ship or document: valid for
// both, or invalid for both, except for the rules JSON Schema cannot express (listed below, each
// with its reason; docs/configuration.md lists them for users).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseConfigText } from '../src/config/load.js';
import { configJsonSchema, configJsonSchemaText } from '../src/config/json-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)); // compiled to dist/test/
const FIXTURES = `${ROOT}test/fixtures/configs/`;
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

/** Configs JSON Schema accepts and `las check` refuses: rules between fields, and primes. */
const CHECK_ONLY: Record<string, string> = {
  'invalid-cpus-length.json': 'cpus must have one entry per worker',
  'invalid-duplicate-name.json': 'service names are unique',
  'invalid-duplicate-server.json': 'a server is listed once per service',
  'invalid-vip-port-conflict.json': 'a VIP, port and protocol belong to one service',
  'invalid-port0-conflict.json': 'an all-ports service owns its VIP for its protocol',
  'invalid-maglev-not-prime.json': 'maglevTableSize is prime',
  'invalid-maglev-too-small.json': 'maglevTableSize is not smaller than the number of servers',
  'invalid-sorry-server.json': 'the sorry server is not also a server',
  'invalid-family-mix.json': 'a service\'s servers are of its vip\'s family',
  'invalid-health-command-missing.json': 'a command check needs "command" (merged from service and server)',
  'invalid-health-port-all-ports.json': 'a tcp/http check of an all-ports service needs "port"',
  'invalid-health-timeout.json': 'timeout is not longer than interval',
  'invalid-health-status.json': 'expectStatus is not reversed',
};

/** Every config of the repository: fixtures, the sample /etc/las/las.json, the docs' examples. */
function configs(): { name: string; text: string }[] {
  const list = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((name) => ({ name, text: readFileSync(FIXTURES + name, 'utf8') }));
  list.push({ name: 'deploy/las.json', text: read('deploy/las.json') });
  for (const doc of ['README.md', 'docs/configuration.md']) {
    [...read(doc).matchAll(/```json\n([\s\S]*?)```/g)].forEach((m, i) => list.push({ name: `${doc} example ${i + 1}`, text: m[1]! }));
  }
  return list;
}

describe('las.schema.json', () => {
  it('is what `npm run schema` generates from the zod schema now (run it after changing src/config)', () => {
    assert.equal(read('deploy/las.schema.json'), configJsonSchemaText());
  });

  it('agrees with `las check` on every fixture, the sample config and the docs\' examples', () => {
    const validate = new Ajv({ allErrors: true, strict: true }).compile(configJsonSchema());
    const seen = { valid: 0, invalid: 0, checkOnly: 0 };
    for (const { name, text } of configs()) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        assert.equal(parseConfigText(text).ok, false, `${name}: not JSON, yet las check accepts it`);
        continue;
      }
      const zod = parseConfigText(text);
      const ajv = validate(json);
      const why = `${name}: las check ${zod.ok ? 'accepts' : `refuses (${zod.errors.map((e) => `${e.path}: ${e.message}`).join(' | ')})`}, JSON Schema ${ajv ? 'accepts' : `refuses (${JSON.stringify(validate.errors)})`}`;
      if (CHECK_ONLY[name] !== undefined) {
        assert.ok(!zod.ok && ajv, `${why}; listed as a rule only las check can apply: ${CHECK_ONLY[name]}`);
        seen.checkOnly++;
      } else {
        assert.equal(ajv, zod.ok, why);
        seen[zod.ok ? 'valid' : 'invalid']++;
      }
    }
    // The lists are not empty by accident (a moved fixture directory would pass vacuously).
    assert.ok(seen.valid >= 5 && seen.invalid >= 15, JSON.stringify(seen));
    assert.equal(seen.checkOnly, Object.keys(CHECK_ONLY).length);
  });

  it('knows the keys editors need: "$schema", required "interface" and "services", no unknown keys', () => {
    const schema = configJsonSchema() as { required: string[]; additionalProperties: unknown; properties: Record<string, unknown> };
    assert.deepEqual(schema.required, ['interface', 'services']);
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.properties.$schema, { type: 'string' });
    const validate = new Ajv({ strict: true }).compile(configJsonSchema());
    const base = JSON.parse(read('deploy/las.json')) as Record<string, unknown>;
    assert.equal(validate(base), true);
    assert.equal(validate({ ...base, lb_algo: 'mh' }), false);
    assert.equal(validate({ ...base, workers: 65 }), false);
  });
});
