import { readFileSync } from 'node:fs';

/**
 * The `version` of package.json, read once. The path is relative to this
 * module, which sits two levels below the package root both as source
 * (src/monitoring) and compiled (dist/monitoring); importing the JSON would put it
 * outside the build's rootDir.
 */
export const serverVersion: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
