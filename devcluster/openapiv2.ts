/**
 * A minimal protobuf `/openapi/v2` (gnostic openapi_v2.Document): one PATCH
 * operation per group-version-kind, carrying `x-kubernetes-group-version-kind`
 * and the `fieldValidation`/`dryRun` query parameters. kubectl before 1.30ish
 * reads it (rather than /openapi/v3) to decide that the server validates fields.
 * Field numbers are those of gnostic's OpenAPIv2.proto. Served as
 * application/octet-stream, as kube-apiserver does (Go's mime parser rejects
 * the `@` in the proto-openapi media type).
 */
import type { Registry } from './resources.js';

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited field (strings and sub-messages). */
function field(num: number, payload: Buffer | string): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([varint(num * 8 + 2), varint(b.length), b]);
}

/** NamedAny{name=1, value=2: Any{yaml=2}} */
function namedAnyYaml(name: string, yaml: string): Buffer {
  return Buffer.concat([field(1, name), field(2, field(2, yaml))]);
}

function queryParam(name: string): Buffer {
  // ParametersItem.parameter(1) → Parameter.non_body_parameter(2) → NonBodyParameter.query_parameter_sub_schema(3)
  const sub = Buffer.concat([field(2, 'query'), field(4, name), field(6, 'string')]);
  return field(1, field(2, field(3, sub)));
}

function patchOperation(group: string, version: string, kind: string): Buffer {
  const gvk = `group: "${group}"\nkind: ${kind}\nversion: ${version}\n`;
  return Buffer.concat([
    field(5, `patch${kind}`),
    field(8, queryParam('dryRun')),
    field(8, queryParam('fieldManager')),
    field(8, queryParam('fieldValidation')),
    field(13, namedAnyYaml('x-kubernetes-action', 'patch\n')),
    field(13, namedAnyYaml('x-kubernetes-group-version-kind', gvk)),
  ]);
}

export function openapiV2(registry: Registry, serverVersion: string): Buffer {
  const paths: Buffer[] = [];
  for (const t of registry.all()) {
    for (const version of t.versions) {
      const prefix = t.group ? `/apis/${t.group}/${version}` : `/api/${version}`;
      const path = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.plural}/{name}` : `${prefix}/${t.plural}/{name}`;
      // NamedPathItem{name=1, value=2: PathItem{patch=8}}
      paths.push(field(2, Buffer.concat([field(1, path), field(2, field(8, patchOperation(t.group, version, t.kind)))])));
    }
  }
  return Buffer.concat([field(1, '2.0'), field(2, Buffer.concat([field(1, 'Kubernetes'), field(2, serverVersion)])), field(8, Buffer.concat(paths))]);
}
