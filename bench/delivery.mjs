// The dashboard as a new user gets it over a slow link, and the server's latency under 8
// concurrent clients. Started by bench/delivery.sh, which builds the release binary and the site
// and passes their paths; the server runs on a free loopback port with a throwaway data
// directory (the platform seeded at scale 1) and is stopped by its pid.
//
// Prints: the bundle's sizes (raw, gzip, brotli: the files the build precompressed); with
// Chromium's network emulation (1.6 Mbit/s down, 750 kbit/s up, 150 ms latency), the time until
// the overview is hydrated on a first visit (empty cache) and on a repeat visit (same browser,
// a new tab), with the bytes received each time; then the median and 99th percentile of the
// server time of /admin and /admin/usage_trends with 8 concurrent signed-in clients, as the
// client sees it and as the server's own latency histogram (/-/metrics) records it. Between
// the two, how long the pages with large tables (metric dictionary, payload history) hold the
// main thread while they hydrate.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.cwd(), 'end2end', 'package.json'));
const { chromium } = require('playwright-core');

const [bin, site] = process.argv.slice(2);
const REQUESTS = Number(process.env.DELIVERY_REQUESTS ?? 2000);
const CONCURRENCY = 8;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')}: exit ${code}`))));
  });
}

async function waitUntilHealthy(url) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/-/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not become healthy');
}

function bundleSizes() {
  const pkg = join(site, 'pkg');
  const size = (file) => { try { return statSync(join(pkg, file)).size; } catch { return null; } };
  const kb = (n) => (n === null ? 'missing' : `${(n / 1024).toFixed(0)} KB`);
  for (const ext of ['wasm', 'js', 'css']) {
    const file = `service-ping.${ext}`;
    console.log(`${file.padEnd(18)} raw ${kb(size(file)).padStart(8)}   gzip ${kb(size(`${file}.gz`)).padStart(8)}   brotli ${kb(size(`${file}.br`)).padStart(8)}`);
  }
}

/** Signs in through the page and returns the session cookie. */
async function signIn(page, url, password) {
  await page.goto(`${url}/users/sign_in?redirect_to=/admin`);
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 120_000 });
  await page.getByLabel('Username or email').fill('root');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/admin`);
}

/** Loads the overview in a new tab of `context` on the emulated link; ms until hydrated, bytes received. */
async function visit(context, url) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 150, downloadThroughput: 1_600_000 / 8, uploadThroughput: 750_000 / 8,
  });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const started = Date.now();
  await page.goto(`${url}/admin`);
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 120_000 });
  const elapsed = Date.now() - started;
  await page.close();
  return { elapsed, bytes };
}

/** Loads `path` in a new tab of `context` (no emulation: the bundle is cached by then) and
 *  returns the ms until hydrated and the longest task the main thread ran meanwhile (input waits
 *  for it), from Chromium's long-task entries (tasks over 50 ms). */
async function blocking(context, url, path) {
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  const started = Date.now();
  await page.goto(`${url}${path}`);
  await page.waitForFunction(() => document.body.dataset.hydrated === 'true', null, { timeout: 120_000 });
  const elapsed = Date.now() - started;
  // Let the tasks queued by hydration (resources resolving) run and be counted.
  await page.waitForTimeout(500);
  const tasks = await page.evaluate(() => window.__longTasks);
  await page.close();
  return { elapsed, longest: Math.max(0, ...tasks), total: tasks.reduce((a, b) => a + b, 0) };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** REQUESTS GETs of `path`, CONCURRENCY at a time over kept-alive connections, with the
 *  session cookie: the time from the request to the last byte, over loopback, and the server's
 *  CPU time per request (from /proc: steadier than latency on a shared machine). node:http
 *  rather than fetch: the client shares the server's two cores, and fetch spent 440-770 us of
 *  CPU a request against node:http's 180-320 us. */
async function latency(url, path, cookie, pid) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const get = () => new Promise((resolve, reject) => {
    http.get(`${url}${path}`, { agent, headers: { cookie } }, (response) => {
      response.on('data', () => {});
      response.on('end', () => response.statusCode === 200
        ? resolve() : reject(new Error(`${path}: ${response.statusCode}`)));
    }).on('error', reject);
  });
  const times = [];
  let next = 0;
  async function worker() {
    while (next < REQUESTS) {
      next++;
      const started = performance.now();
      await get();
      times.push(performance.now() - started);
    }
  }
  // Warm up, then measure.
  for (let i = 0; i < 50; i++) await get();
  const cpuBefore = cpuSeconds(pid);
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const cpuPerRequest = ((cpuSeconds(pid) - cpuBefore) / REQUESTS) * 1000;
  agent.destroy();
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p99: percentile(times, 99), cpuPerRequest };
}

/** The server's own latency histogram for `route` (`/-/metrics`, readable from this machine):
 *  cumulative counts by upper bound in seconds. */
async function serverHistogram(url, route) {
  const text = await (await fetch(`${url}/-/metrics`)).text();
  const buckets = new Map();
  const prefix = `http_request_duration_seconds_bucket{route="${route}",le="`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const [le, count] = line.slice(prefix.length).split('"} ');
    buckets.set(le, Number(count));
  }
  return buckets;
}

/** The smallest bucket bound, in ms, under which `p` per cent of the requests between the
 *  histograms `before` and `after` were answered, and the share answered within 10 ms: the
 *  server's view, from a request's arrival to its response head, without the client's time. */
function serverPercentile(before, after, p) {
  const total = after.get('+Inf') - (before.get('+Inf') ?? 0);
  const within = (le) => (after.get(le) - (before.get(le) ?? 0)) / total;
  const bound = [...after.keys()].find((le) => within(le) >= p / 100);
  return { bound: bound === '+Inf' ? Infinity : Number(bound) * 1000, within10ms: within('0.01') };
}

/** The user and system CPU seconds process `pid` has used. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const data = mkdtempSync(join(tmpdir(), 'delivery-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const env = { SERVICE_PING__SERVER__SITE_ROOT: site, RUST_LOG: 'warn' };
await run(['--data-dir', data, 'seed', '--scale', '1'], env);
const server = spawn(bin, ['--data-dir', data, '--listen', `127.0.0.1:${port}`, 'serve'], {
  env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await waitUntilHealthy(url);
  const password = readFileSync(join(data, 'initial_root_password'), 'utf8')
    .split('\n').find((l) => l.startsWith('Password: ')).slice('Password: '.length).trim();
  bundleSizes();

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  // Sign in on a context of its own, then carry its cookie to a browser with an empty cache.
  const signing = await browser.newContext();
  await signIn(await signing.newPage(), url, password);
  const state = await signing.storageState();
  const cookie = state.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  await signing.close();
  const context = await browser.newContext({ storageState: state });
  const first = await visit(context, url);
  const repeat = await visit(context, url);
  console.log(`\noverview over 1.6 Mbit/s, 150 ms (time until hydrated, bytes received):`);
  console.log(`first visit   ${(first.elapsed / 1000).toFixed(2)} s   ${(first.bytes / 1024).toFixed(0)} KB`);
  console.log(`repeat visit  ${(repeat.elapsed / 1000).toFixed(2)} s   ${(repeat.bytes / 1024).toFixed(0)} KB`);
  console.log(`\npages with large tables, bundle cached, no emulation (time until hydrated; longest main-thread task):`);
  // The license page has no large table: what every page's start costs, for comparison.
  for (const path of ['/admin/license', '/admin/service_ping/metrics', '/admin/service_ping/history']) {
    const { elapsed, longest, total } = await blocking(context, url, path);
    console.log(`${path.padEnd(28)} ${elapsed} ms   longest task ${longest.toFixed(0)} ms   long tasks in all ${total.toFixed(0)} ms`);
  }
  await browser.close();

  console.log(`\nserver time over loopback, ${CONCURRENCY} concurrent clients, ${REQUESTS} requests a page (target p99 < 10 ms):`);
  for (const path of ['/admin', '/admin/usage_trends']) {
    const before = await serverHistogram(url, path);
    const { median, p99, cpuPerRequest } = await latency(url, path, cookie, server.pid);
    const server99 = serverPercentile(before, await serverHistogram(url, path), 99);
    console.log(`${path.padEnd(22)} median ${median.toFixed(1)} ms   p99 ${p99.toFixed(1)} ms   server CPU ${cpuPerRequest.toFixed(2)} ms a request`);
    console.log(`${''.padEnd(22)} server's own histogram: p99 within ${server99.bound} ms, ${(server99.within10ms * 100).toFixed(2)} % within 10 ms`);
  }
} finally {
  server.kill();
  rmSync(data, { recursive: true, force: true });
}
