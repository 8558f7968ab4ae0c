import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * packageDir is the top directory of the Switchboard package, the one
 * with its package.json. The code runs from two places: compiled under
 * dist/ (the `switchboard` command, `npm start`) and from the sources
 * through tsx (tests of single modules, `npx tsx src/cli/main.ts`). Files
 * it reads at run time that are not code (the default flows, the
 * descriptor set in src/gen) are found from here, the same in both.
 */
export const packageDir: string = findPackageDir(dirname(fileURLToPath(import.meta.url)));

/**
 * findPackageDir returns `from` or the nearest directory above it that
 * holds a package.json; it throws when there is none.
 */
export function findPackageDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or above it`);
  }
}
