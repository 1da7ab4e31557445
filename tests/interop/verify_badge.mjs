// Verifies Open Badges 3.0 credentials exported by TICA (`tica certificates credential --format
// open-badge`, GetCertificateCredential with CREDENTIAL_FORMAT_OPEN_BADGE) with the Digital
// Credentials Consortium's verifier library, @digitalcredentials/verifier-core (package.json,
// package-lock.json), as a wallet or an employer's verifier would — offline.
//
// The verifier bundles its JSON-LD contexts (VC 2.0, OB 3.0.x, DID, Multikey …) and fetches only
// the issuer's did:web document and the status list credential. Here `fetch` answers those two
// from files and refuses every other URL, so nothing reaches the network and a context we did
// not expect to be bundled fails the run instead of being downloaded.
//
// The verifier also fetches the OB 3.0 JSON Schema for an informational check that does not
// change its verdict; offline, that fetch is refused (listed in `refused`) and the check skipped.
//
// usage: node verify_badge.mjs DID_JSON STATUS_LIST_JSON CREDENTIAL_JSON…
// prints one JSON line per credential: {"file", "verdict": "valid"|"revoked"|"invalid", "log",
// "errors"}; exit status 0 when every credential was judged (whatever the verdict), 2 on misuse.

import { readFileSync } from 'node:fs';

const [didPath, statusPath, ...credentialPaths] = process.argv.slice(2);
if (!didPath || !statusPath || credentialPaths.length === 0) {
  console.error('usage: node verify_badge.mjs DID_JSON STATUS_LIST_JSON CREDENTIAL_JSON…');
  process.exit(2);
}
const didDocument = readFileSync(didPath, 'utf8');
const statusList = readFileSync(statusPath, 'utf8');
const statusListUrl = JSON.parse(statusList).id;
const did = JSON.parse(didDocument).id;
// did:web:host%3Aport:path → https://host:port/path/did.json, or /.well-known/did.json (did:web §3.2).
const didUrl = (() => {
  const [host, ...path] = did.slice('did:web:'.length).split(':');
  const origin = `https://${decodeURIComponent(host)}`;
  return path.length ? `${origin}/${path.join('/')}/did.json` : `${origin}/.well-known/did.json`;
})();

const served = new Map([
  [didUrl.toLowerCase(), { body: didDocument, type: 'application/did+json' }],
  [statusListUrl.toLowerCase(), { body: statusList, type: 'application/vc+ld+json' }],
]);
const refused = [];
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  const key = url.split('#')[0].toLowerCase().replace(/^http:/, 'https:');
  const hit = served.get(key) ?? served.get(url.split('#')[0].toLowerCase());
  if (!hit) {
    refused.push(url);
    throw new TypeError(`offline: ${url} is not served by this test`);
  }
  return new Response(hit.body, { status: 200, headers: { 'content-type': hit.type } });
};

// The libraries' own messages go to standard error: standard output is the verdicts only.
console.log = (...args) => console.error(...args);

const { verifyCredential } = await import('@digitalcredentials/verifier-core');

function verdict(result) {
  if (result.errors?.length) return 'invalid';
  const log = result.log ?? [];
  const step = (id) => log.find((entry) => entry.id === id);
  const signature = step('valid_signature');
  if (!signature?.valid) return 'invalid';
  const status = step('revocation_status');
  if (status && status.error) return 'invalid';
  if (status && status.valid === false) return 'revoked';
  return 'valid';
}

for (const file of credentialPaths) {
  const credential = JSON.parse(readFileSync(file, 'utf8'));
  const result = await verifyCredential({ credential, knownDIDRegistries: [] });
  const errors = (result.errors ?? []).map((e) => `${e.name}: ${e.message}`);
  process.stdout.write(JSON.stringify({
    file,
    verdict: verdict(result),
    log: (result.log ?? []).map((e) => ({ id: e.id, valid: e.valid, error: e.error?.name })),
    errors,
    refused: [...refused],
  }) + '\n');
}
