/**
 * The deployment manifests under config/, rendered the way a user renders them
 * (`kubectl kustomize DIR`, nothing else), as objects and back as YAML.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../dev/demo/paths.js';

export const CONFIG_DIR = join(PACKAGE_ROOT, 'config');

/** A rendered Kubernetes object; fields below metadata are read where needed. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

function kustomize(path: string): Promise<Manifest[]> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', ['kustomize', path], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`kubectl kustomize ${path}: ${stderr.trim() || error.message}`));
      resolve(parseAllDocuments(stdout).map((d) => d.toJSON() as Manifest).filter((m) => m !== null));
    });
  });
}

/** `kubectl kustomize <dir>` (relative to config/), parsed. */
export function render(dir: string): Promise<Manifest[]> {
  return kustomize(join(CONFIG_DIR, dir));
}

/** A user's own kustomization of `base` with `components` (all relative to config/), rendered. */
export async function renderWithComponents(base: string, components: readonly string[]): Promise<Manifest[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tower-kustomization-'));
  try {
    const rel = (p: string) => relative(dir, join(CONFIG_DIR, p));
    const text = ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', `  - ${rel(base)}`, 'components:', ...components.map((c) => `  - ${rel(c)}`), ''];
    await writeFile(join(dir, 'kustomization.yaml'), text.join('\n'));
    return await kustomize(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

export function find(objects: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered manifests`);
  return found;
}

/** Every directory under config/ with a kustomization that builds on its own (components do not), relative to config/. */
export async function kustomizations(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'kustomization.yaml')) {
      const text = await readFile(join(dir, 'kustomization.yaml'), 'utf8');
      if (/^kind:\s*Kustomization\s*$/m.test(text)) out.push(relative(CONFIG_DIR, dir));
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
  };
  await walk(CONFIG_DIR);
  return out.sort();
}
