// The editors' JSON Schema (deploy/las.schema.json), derived from the zod schema the daemon parses
// with: zod-to-json-schema gives the structure (objects, required keys, lists and their sizes), each
// leaf gives the schema of the values its check accepts, and every object refuses unknown keys.
// What JSON Schema cannot say (rules between fields, primes, control characters) stays with
// `las check`: docs/configuration.md lists it.
import { zodToJsonSchema, ignoreOverride, type JsonSchema7Type } from 'zod-to-json-schema';
import { configSchema, leafJson } from './shapes.js';


export function configJsonSchema(): Record<string, unknown> {
  const generated = zodToJsonSchema(configSchema, {
    $refStrategy: 'none', // the health check appears twice: inline both, editors show each in place
    override: (def) => {
      const json = leafJson.get(def);
      return json === undefined ? ignoreOverride : (json as JsonSchema7Type);
    },
  }) as Record<string, unknown>;
  return {
    $schema: generated.$schema,
    title: 'LAS (Link Address Selector) configuration',
    description: 'las.json: validate with `las check FILE`, which also checks the rules between fields that this schema cannot express. Reference: docs/configuration.md',
    ...Object.fromEntries(Object.entries(generated).filter(([key]) => key !== '$schema')),
  };
}

/** The file's text, as `npm run schema` writes it and the staleness test compares it. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
