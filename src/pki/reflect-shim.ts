/**
 * Minimal `Reflect` metadata shim, installed only when no polyfill is present.
 *
 * Why: @peculiar/x509 depends on tsyringe, which refuses to load unless
 * `Reflect.getMetadata` exists (it reads constructor parameter types that
 * x509's classes never declare). The `reflect-metadata` package is not a
 * dependency, so this covers the few calls tsyringe makes. Import it before
 * `@peculiar/x509` — `./x509.js` does that; import x509 through there.
 */

type Target = object;
type Key = string | symbol;

const store = new WeakMap<Target, Map<Key | undefined, Map<unknown, unknown>>>();

function table(target: Target, property: Key | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let values = byProperty.get(property);
  if (!values && create) {
    values = new Map();
    byProperty.set(property, values);
  }
  return values;
}

function getOwnMetadata(key: unknown, target: Target, property?: Key): unknown {
  return table(target, property, false)?.get(key);
}

function getMetadata(key: unknown, target: Target, property?: Key): unknown {
  for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
    const values = table(t, property, false);
    if (values?.has(key)) return values.get(key);
  }
  return undefined;
}

function defineMetadata(key: unknown, value: unknown, target: Target, property?: Key): void {
  table(target, property, true)?.set(key, value);
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect['getMetadata'] !== 'function') {
  Object.assign(reflect, {
    getMetadata,
    getOwnMetadata,
    defineMetadata,
    hasMetadata: (key: unknown, target: Target, property?: Key) => getMetadata(key, target, property) !== undefined,
    hasOwnMetadata: (key: unknown, target: Target, property?: Key) => table(target, property, false)?.has(key) ?? false,
    metadata: (key: unknown, value: unknown) => (target: Target, property?: Key) =>
      defineMetadata(key, value, target, property),
  });
}

export {};
