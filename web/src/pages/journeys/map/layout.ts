import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk.bundled.js";
import type { MapGraph } from "./model.ts";

/** Box sizes on the map, by node kind (ELK needs them before anything is drawn). */
export const NODE_SIZE = {
  step: { width: 240, height: 112 },
  trigger: { width: 240, height: 96 },
  end: { width: 96, height: 36 },
} as const;

export function sizeOf(kind: string): { width: number; height: number } {
  return kind === "trigger" ? NODE_SIZE.trigger : kind === "end" ? NODE_SIZE.end : NODE_SIZE.step;
}

/** Where the i-th of n ways out leaves a node's bottom edge, as a share of its width. */
export function outputShare(i: number, n: number): number {
  return (i + 1) / (n + 1);
}

export interface Point {
  x: number;
  y: number;
}

/** A laid-out map: each node's top-left corner, each edge's route and label box. */
export interface Layout {
  positions: Map<string, Point>;
  routes: Map<string, { points: Point[]; label: Point | undefined }>;
}

const elk = new ELK();

// Layered, top-down, edges routed orthogonally around the boxes. Speed matters (a 100-step map lays
// out and renders in under 1 s): one crossing-minimisation pass, no model-order constraints, and
// no label boxes (labels sit on each edge's first stretch, below the node's way out, drawn by the map).
const OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.spacing.nodeNode": "40",
  "elk.spacing.edgeNode": "20",
  "elk.spacing.edgeEdge": "12",
  "elk.layered.spacing.nodeNodeBetweenLayers": "56",
  "elk.layered.spacing.edgeNodeBetweenLayers": "28",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "12",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.layered.thoroughness": "1",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
};

/** The structure the layout depends on: ids, kinds, ways out and edges (not names or numbers). */
export function layoutKey(graph: MapGraph): string {
  return JSON.stringify([
    graph.nodes.map((n) => [n.id, n.kind === "trigger" || n.kind === "end" ? n.kind : "", n.outputs]),
    graph.edges.map((e) => [e.id, e.to]),
  ]);
}

const cache = new Map<string, Layout>();

function toElk(graph: MapGraph): ElkNode {
  const children: ElkNode[] = graph.nodes.map((n) => {
    const size = sizeOf(n.kind);
    return {
      id: n.id,
      ...size,
      layoutOptions: { "elk.portConstraints": "FIXED_POS" },
      ports: [
        ...(n.kind === "trigger"
          ? []
          : [
              {
                id: `${n.id}\u0000in`,
                x: size.width / 2,
                y: 0,
                width: 0,
                height: 0,
                layoutOptions: { "elk.port.side": "NORTH" },
              },
            ]),
        ...n.outputs.map((o, i) => ({
          id: `${n.id}\u0000out\u0000${o}`,
          x: outputShare(i, n.outputs.length) * size.width,
          y: size.height,
          width: 0,
          height: 0,
          layoutOptions: { "elk.port.side": "SOUTH" },
        })),
      ],
    };
  });
  const edges: ElkExtendedEdge[] = graph.edges.map((e) => ({
    id: e.id,
    sources: [`${e.from}\u0000out\u0000${e.from.startsWith("__") ? "start" : e.label}`],
    targets: [`${e.to}\u0000in`],
  }));
  return { id: "root", layoutOptions: OPTIONS, children, edges };
}

/** Where an edge's label goes: on its first stretch, just below the way out it leaves by. */
function labelSpot(points: Point[]): Point {
  const [a, b] = [points[0]!, points[1]!];
  const along = Math.min(16, Math.hypot(b.x - a.x, b.y - a.y) / 2);
  const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
  return { x: a.x + ((b.x - a.x) / len) * along, y: a.y + ((b.y - a.y) / len) * along };
}

/** Lays a map out in one ELK call; the same structure is laid out once per page load. */
export async function layoutGraph(graph: MapGraph): Promise<Layout> {
  const key = layoutKey(graph);
  const hit = cache.get(key);
  if (hit) return hit;
  const result = await elk.layout(toElk(graph));
  performance.mark("waymark:map-laid-out");
  const positions = new Map<string, Point>();
  for (const c of result.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  const routes: Layout["routes"] = new Map();
  for (const e of (result.edges ?? []) as ElkExtendedEdge[]) {
    const s = e.sections?.[0];
    if (!s) continue;
    const points = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
    routes.set(e.id, { points, label: labelSpot(points) });
  }
  const layout = { positions, routes };
  if (cache.size > 50) cache.clear();
  cache.set(key, layout);
  return layout;
}

// The layout engine is compiled Java: its first call pays for warming it up. Warm it on a tiny graph
// while the page still waits for the journey, so the real layout does not pay for it.
void elk
  .layout({
    id: "warm-up",
    layoutOptions: OPTIONS,
    children: [
      { id: "a", width: 10, height: 10 },
      { id: "b", width: 10, height: 10 },
    ],
    edges: [{ id: "e", sources: ["a"], targets: ["b"] }],
  })
  .catch(() => undefined);
