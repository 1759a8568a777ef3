import { startTunnelFixture, CLUSTER, CLUSTER_TOKEN } from '../dist/test/helpers/tunnel-fixture.js';
import { connectRawAgent, rawConfig } from '../dist/test/helpers/raw-agent.js';
import { createLogger } from '../dist/src/log.js';
const t = await startTunnelFixture({ proxy: { dataPlaneThreads: 2, logger: createLogger({ name: 'p', verbosity: 5 }) } });
const raw = await connectRawAgent(t.proxy.port);
raw.ws.on('close', () => console.log('ws close'));
const base = rawConfig({ name: CLUSTER, token: CLUSTER_TOKEN });
const head = Buffer.concat([base.subarray(0, -1), Buffer.from(',"Pad":"')]);
const big = Buffer.concat([head, Buffer.alloc(48 * 1024 - head.length - 2, 'x'), Buffer.from('"}')]);
const s = [...t.proxy.sessions.values()][0];
s.actor.subscribe((snap) => console.log('state', snap.value, snap.context.reason));
try { await raw.sendConfig(big, 3000); } catch (e) { console.log('sendConfig', e.message); }
console.log('sessions', t.proxy.sessions.size, t.proxy.dataPlane.sessionCounts);
await raw.close().catch(e => console.log('close', e.message));
await t.close();
