// `npm run schema`: writes deploy/las.schema.json from the zod schema (see json-schema.ts).
import { writeFileSync } from 'node:fs';
import { configJsonSchemaText } from './json-schema.js';

const target = new URL('../../../deploy/las.schema.json', import.meta.url); // from dist/src/config/
writeFileSync(target, configJsonSchemaText());
process.stdout.write(`wrote ${target.pathname}\n`);
