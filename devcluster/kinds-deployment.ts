/**
 * What kube-apiserver's Deployment strategy checks and defaults on write: a selector that
 * matches the template's labels and never changes after creation (so an in-place upgrade
 * must keep it), and the usual defaults. Nothing runs the Deployment.
 */
import type { JsonObject, KubeObject } from './types.js';
import { errors, isObject } from './types.js';

const stable = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

function invalid(obj: KubeObject, message: string) {
  return errors.invalid('apps', 'Deployment', obj.metadata.name ?? '', message);
}

export function prepareDeployment(obj: KubeObject, old: KubeObject | undefined): void {
  const spec: JsonObject = isObject(obj['spec']) ? obj['spec'] : {};
  obj['spec'] = spec;
  const selector = spec['selector'];
  if (!isObject(selector) || (!isObject(selector['matchLabels']) && !Array.isArray(selector['matchExpressions'])))
    throw invalid(obj, 'spec.selector: Required value');
  const template = isObject(spec['template']) ? spec['template'] : {};
  const labels = isObject(template['metadata']) && isObject(template['metadata']['labels']) ? template['metadata']['labels'] : {};
  const matchLabels = isObject(selector['matchLabels']) ? selector['matchLabels'] : {};
  if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v))
    throw invalid(obj, `spec.template.metadata.labels: Invalid value: ${stable(labels)}: \`selector\` does not match template \`labels\``);
  const oldSpec = old && isObject(old['spec']) ? old['spec'] : undefined;
  if (oldSpec && stable(oldSpec['selector']) !== stable(selector))
    throw invalid(obj, `spec.selector: Invalid value: ${stable(selector)}: field is immutable`);
  spec['replicas'] ??= 1;
  spec['revisionHistoryLimit'] ??= 10;
  spec['progressDeadlineSeconds'] ??= 600;
  spec['strategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
  if (!old) obj['status'] = {};
}
