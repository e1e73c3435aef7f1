/**
 * @module node-version
 * The Node.js version the connector needs (package.json "engines",
 * `.node-version`), checked by bin.ts before anything else is loaded. Written
 * for old Nodes too: it must run where the rest of the code cannot.
 */

/** Node 24: what the code is built and tested on (zstd in node:zlib needs 22.15 or later). */
export const REQUIRED_NODE_MAJOR = 24;

/** One line saying which Node is needed and how to get it, or undefined when `version` will do. */
export const nodeVersionProblem = (version: string, execPath: string): string | undefined => {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? Number.NaN);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    `webex-cdr-kafka needs Node.js ${REQUIRED_NODE_MAJOR} or later, not ${version} (${execPath}): ` +
    `in a checkout, "npx webex-cdr-kafka ..." and "npm run ..." use the project's Node ${REQUIRED_NODE_MAJOR} ` +
    `(node_modules/.bin/node, from "npm ci"); elsewhere install Node.js ${REQUIRED_NODE_MAJOR} ` +
    `(https://nodejs.org, or "nvm install ${REQUIRED_NODE_MAJOR}"), or run the container image`
  );
};
