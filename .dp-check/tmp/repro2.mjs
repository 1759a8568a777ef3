import { startTunnelFixture, CLUSTER, CLUSTER_TOKEN } from '../dist/test/helpers/tunnel-fixture.js';
import { connectRawAgent, rawConfig } from '../dist/test/helpers/raw-agent.js';
const threads = Number(process.argv[2]);
const t = await startTunnelFixture({ proxy: { dataPlaneThreads: threads } });
const raw = await connectRawAgent(t.proxy.port);
const t0 = Date.now();
const ev = (what) => console.log(Date.now() - t0, what);
raw.ws.on('close', (code) => ev('ws close ' + code));
raw.client.on('end', () => ev('client end'));
raw.client.on('close', () => ev('client close'));
const base = rawConfig({ name: CLUSTER, token: CLUSTER_TOKEN });
const head = Buffer.concat([base.subarray(0, -1), Buffer.from(',"Pad":"')]);
const big = Buffer.concat([head, Buffer.alloc(48 * 1024 - head.length - 2, 'x'), Buffer.from('"}')]);
try { await raw.sendConfig(big, 3000); } catch (e) { ev('sendConfig ' + e.message); }
await raw.close().catch(e => console.log('close', e.message));
await t.close();
