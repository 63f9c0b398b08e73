/**
 * memvisor's version, as package.json says (test/package.test.ts holds them equal). A constant
 * rather than a read of package.json, so the main entry needs no file system (a browser).
 */
export const VERSION = '0.1.0';
