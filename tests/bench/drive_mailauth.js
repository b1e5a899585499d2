#!/usr/bin/env node
// mailauth (npm, pinned in tests/bench/package.json) verifying the benchmark corpus in one
// in-process loop, one message at a time (await each), as a milter would.
//
//   node drive_mailauth.js EML_DIR 127.0.0.1:PORT
//
// Keys come from the given DNS server only: a node dns.promises.Resolver whose server list is
// set to it (node's own c-ares; the host's resolver is never asked), passed as mailauth's
// `resolver`; answers are memoized per name/type for the run, as credence's TTL cache does.
// Prints one JSON line: {"tool", "messages", "passes", "seconds", "cpu_seconds", "dns_queries"};
// timing covers reading each file and verifying it.
'use strict';
const fs = require('fs');
const path = require('path');
const { Resolver } = require('dns').promises;
const { dkimVerify } = require('mailauth/lib/dkim/verify');

async function main() {
  const [dir, server] = process.argv.slice(2);
  if (!dir || !server) {
    console.error('usage: drive_mailauth.js EML_DIR HOST:PORT');
    process.exit(2);
  }
  const dns = new Resolver({ timeout: 5000, tries: 1 });
  dns.setServers([server]);
  const cache = new Map();
  let queries = 0;
  const resolver = async (name, rr) => {
    const key = `${rr}/${name.toLowerCase()}`;
    if (!cache.has(key)) {
      queries++;
      // Cache the promise, rejections included (NXDOMAIN is an answer too).
      cache.set(key, dns.resolve(name, rr));
    }
    return cache.get(key);
  };
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
  let passes = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (const f of files) {
    const data = fs.readFileSync(path.join(dir, f));
    const result = await dkimVerify(data, { resolver });
    if (result.results.length && result.results[0].status.result === 'pass') passes++;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const version = require('mailauth/package.json').version;
  console.log(JSON.stringify({ tool: `mailauth ${version} (node ${process.versions.node})`,
    messages: files.length, passes, seconds, cpu_seconds: cpuSeconds, dns_queries: queries }));
}

main().catch((e) => { console.error(e); process.exit(1); });
