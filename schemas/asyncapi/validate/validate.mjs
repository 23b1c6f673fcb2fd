// Validates an AsyncAPI document with the official parser (@asyncapi/parser) and its default rulesets.
// Usage: node validate.mjs [path/to/asyncapi.yaml]   (default: ../asyncapi.yaml beside this folder)
// Prints every diagnostic; exits 1 on any error-severity diagnostic or when the document cannot be parsed,
// 2 on a usage or read problem, 0 otherwise (warnings, information and hints are printed but allowed).
// $refs are resolved relative to the document's file; the platform's documents refer only to local files.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser, fromFile } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.resolve(process.argv[2] ?? path.join(here, '..', 'asyncapi.yaml'));
if (!existsSync(target)) {
  console.error(`no such file: ${target}`);
  process.exit(2);
}

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

const parser = new Parser();
let result;
try {
  result = await fromFile(parser, target).parse();
} catch (error) {
  console.error(`could not read or parse ${target}: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}
const { document, diagnostics } = result;

const counts = { error: 0, warning: 0, info: 0, hint: 0 };
for (const diagnostic of diagnostics) {
  const severity = SEVERITY[diagnostic.severity] ?? 'error';
  counts[severity] += 1;
  const where = diagnostic.path.length ? diagnostic.path.join('.') : '(document)';
  const line = diagnostic.range ? `:${diagnostic.range.start.line + 1}` : '';
  const source = diagnostic.source ? path.relative(process.cwd(), diagnostic.source) : path.relative(process.cwd(), target);
  console.log(`${severity} ${diagnostic.code} ${source}${line} ${where}: ${diagnostic.message}`);
}

const failed = counts.error > 0 || document === undefined;
const summary = `${counts.error} errors, ${counts.warning} warnings, ${counts.info} infos, ${counts.hint} hints`;
if (failed) {
  console.log(`INVALID ${path.relative(process.cwd(), target)}: ${summary}`);
  process.exit(1);
}
const messages = document.allMessages().length;
const channels = document.allChannels().length;
console.log(`valid AsyncAPI ${document.version()} ${path.relative(process.cwd(), target)}: ${channels} channels, ${messages} messages; ${summary}`);
