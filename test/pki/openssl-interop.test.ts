import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { loadCaFromFiles } from '../../src/pki/ca-load.js';
import { importCa } from '../../src/pki/ca.js';
import { issueClientCert, issueServingCert } from '../../src/pki/issue.js';
import { describeWithTool } from '../helpers/external-tool.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const hasOpenssl = await run('openssl', ['version']).then(() => true, () => false);

// CAs made the way operators make them, with the openssl CLI; the issued
// certificates must pass `openssl verify` (issuer name and AKI must match).
const recipes: { name: string; keyCmd: string[]; banner: RegExp }[] = [
  { name: 'RSA PKCS#1 (genrsa -traditional)', keyCmd: ['genrsa', '-traditional', '-out', 'ca.key', '2048'], banner: /BEGIN RSA PRIVATE KEY/ },
  { name: 'RSA PKCS#8 (genpkey)', keyCmd: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key'], banner: /BEGIN PRIVATE KEY/ },
  { name: 'EC SEC1 with EC PARAMETERS (ecparam -genkey)', keyCmd: ['ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ca.key'], banner: /BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/ },
  { name: 'EC P-384 PKCS#8 (genpkey)', keyCmd: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'ca.key'], banner: /BEGIN PRIVATE KEY/ },
];

describeWithTool('CAs made with the openssl CLI', hasOpenssl ? undefined : 'openssl is not on PATH (apt-get install openssl)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(() => tmp.cleanup());

  recipes.forEach((r, i) => {
    test(r.name, async () => {
      const cwd = join(tmp.dir, String(i));
      await mkdir(cwd);
      await run('openssl', r.keyCmd, { cwd });
      await run('openssl', ['req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '30',
        '-subj', '/C=US/O=Tower Test/CN=openssl-ca'], { cwd });
      assert.match(await readFile(join(cwd, 'ca.key'), 'utf8'), r.banner);

      const ca = await importCa(await loadCaFromFiles({ certFile: join(cwd, 'ca.crt'), keyFile: join(cwd, 'ca.key') }));
      const serving = await issueServingCert(ca, { hosts: ['127.0.0.1', 'tower.example'] });
      const client = await issueClientCert(ca, { commonName: 'kubernetes-admin', organizations: ['system:masters'] });
      await writeFile(join(cwd, 'serving.crt'), serving.certPem);
      await writeFile(join(cwd, 'client.crt'), client.certPem);

      const s = await run('openssl', ['verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'serving.crt'], { cwd });
      assert.match(s.stdout, /serving\.crt: OK/);
      const c = await run('openssl', ['verify', '-CAfile', 'ca.crt', '-purpose', 'sslclient', 'client.crt'], { cwd });
      assert.match(c.stdout, /client\.crt: OK/);
    });
  });
});
