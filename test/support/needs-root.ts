// The `skip` option of tests that cannot run as an ordinary user: network namespaces, packet sockets,
// switching users. Without root they are skipped with the reason instead of failing, and
// `npm run test:unit` (LAS_TEST_UNIT=1) skips them even as root, so it runs only the tests that need
// no privilege and finish quickly.
//   test('...', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => { ... });

const isRoot = process.getuid?.() === 0;
const unitRun = process.env.LAS_TEST_UNIT === '1';

/** The reason to skip a test that needs root for `what`, or false when it can run. */
export function needsRoot(what: string): string | false {
  if (unitRun) return `left out of the unit run (npm run test:unit): needs root for ${what}`;
  return isRoot ? false : `needs root for ${what}`;
}

/** The reason to leave a slow test that needs no root out of the unit run, or false when it runs. */
export function slowForUnitRun(why: string): string | false {
  return unitRun ? `left out of the unit run (npm run test:unit): ${why}` : false;
}
