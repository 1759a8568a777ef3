/**
 * Turns the text of a `--clusters` file into the list of objects it holds, each with its
 * position. Accepted shapes, freely mixed in a multi-document YAML stream:
 * one object per document, a `List`/`ClusterList` with `items`, or a sequence (a JSON
 * array). JSON is read as YAML (YAML 1.2 is a superset), so both get line numbers.
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import { ClusterFileProblem, describeValue } from './cluster-file-error.js';

/** One object found in the file, before validation. */
export interface LocatedObject {
  /** 1-based position among all objects of the file. */
  readonly index: number;
  /** 1-based line where the object starts, when known. */
  readonly line: number | undefined;
  readonly value: unknown;
}

const LIST_KINDS: ReadonlySet<string> = new Set(['List', 'ClusterList']);

export function readClusterObjects(text: string): LocatedObject[] {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter });
  // An empty stream comes back as a non-array "EmptyStream".
  const documents = Array.isArray(parsed) ? parsed : [];
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Partial<Node> | null | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };

  const objects: LocatedObject[] = [];
  const push = (value: unknown, node: unknown): void => {
    objects.push({ index: objects.length + 1, line: lineOf(node), value });
  };

  documents.forEach((document, docIndex) => {
    const error = document.errors[0];
    if (error) {
      const line = error.linePos?.[0].line;
      const column = error.linePos?.[0].col;
      // The yaml message ends with a source excerpt (which may hold a token): keep only
      // the description before " at line".
      const what = error.message.split(/ at line \d+/)[0]?.split('\n')[0] ?? error.code;
      const at = line === undefined ? '' : ` at line ${line}, column ${column ?? 1}`;
      throw new ClusterFileProblem(undefined, `invalid YAML/JSON${at}: ${what}; fix the syntax`);
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (err) {
      const what = err instanceof Error ? err.message.split('\n')[0] : 'cannot be converted';
      throw new ClusterFileProblem(`document ${docIndex + 1}`, `invalid YAML: ${what}; fix the syntax`);
    }
    const contents = document.contents;
    const where = `document ${docIndex + 1} (line ${lineOf(contents) ?? 1})`;
    if (value === null || value === undefined) return; // empty document, e.g. a trailing `---`
    if (Array.isArray(value)) {
      const nodes = isSeq(contents) ? contents.items : [];
      value.forEach((item, i) => push(item, nodes[i]));
      return;
    }
    if (typeof value !== 'object') {
      throw new ClusterFileProblem(
        where,
        `expected a Cluster object, a List of them or an array, found ${describeValue(value)}; ` +
          'write each cluster as a mapping with apiVersion, kind, metadata and spec',
      );
    }
    const kind = (value as { kind?: unknown }).kind;
    const items = (value as { items?: unknown }).items;
    if (typeof kind === 'string' && LIST_KINDS.has(kind)) {
      if (items === undefined || items === null) return; // an empty list
      if (!Array.isArray(items)) {
        throw new ClusterFileProblem(
          where,
          `${kind}.items is ${describeValue(items)}, not a list; write items as a list of Cluster objects`,
        );
      }
      const itemsNode = isMap(contents) ? contents.get('items', true) : undefined;
      const nodes = isSeq(itemsNode) ? itemsNode.items : [];
      items.forEach((item, i) => push(item, nodes[i]));
      return;
    }
    push(value, contents);
  });
  return objects;
}
