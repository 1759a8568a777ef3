/** The debug page's pictures of every machine: one box per state, nested as the states are, siblings apart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allMachines } from '../../src/machines/index.js';
import { machineGraph } from '../../src/debug/machine-graph.js';
import { layoutMachine, type PlacedState } from '../../src/debug/machine-layout.js';

const inside = (a: PlacedState, b: PlacedState) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;
const apart = (a: PlacedState, b: PlacedState) => a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;

for (const [name, machine] of Object.entries(allMachines)) {
  test(`${name}: every state placed inside its parent, siblings apart, every arrow drawn`, () => {
    const graph = machineGraph(machine);
    const layout = layoutMachine(graph);
    assert.deepEqual(layoutMachine(machineGraph(machine)), layout, 'the same definition gives the same picture');
    const placed = new Map(layout.states.map((s) => [s.path, s]));
    for (const state of graph.states.slice(1)) {
      const box = placed.get(state.path);
      assert.ok(box, `${state.path} is drawn`);
      assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.w <= layout.width && box.y + box.h <= layout.height, `${state.path} is on the canvas`);
      const parentPath = state.path.split('.').slice(0, -1).join('.');
      const parent = placed.get(parentPath);
      if (parent) assert.ok(inside(box, parent), `${state.path} inside ${parentPath}`);
      const siblings = graph.states.slice(1).filter((s) => s.path !== state.path && s.path.split('.').slice(0, -1).join('.') === parentPath);
      for (const sibling of siblings) assert.ok(apart(box, placed.get(sibling.path)!), `${state.path} and ${sibling.path} overlap`);
    }
    assert.equal(layout.edges.length, graph.edges.length);
    for (const edge of layout.edges) assert.match(edge.d, /^M[\d.-]+,[\d.-]+ [QC]/, `${edge.from} → ${edge.to}`);
    assert.deepEqual(layout.undrawn, graph.undrawn);
  });
}
