/**
 * Every test file runs as a Node user of memvisor would, with the Node entry loaded: file swap,
 * image files and trace files registered (src/platform.ts), whichever entry the test imports its
 * names from. What the main entry does without it is tested where it runs without it: in a child
 * process that imports the built 'memvisor' (test/package.test.ts) and in Chromium (test/browser.test.ts).
 */
import '../../src/node.js';
