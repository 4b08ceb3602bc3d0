import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk.bundled.js";
import type { MapGraph } from "./model.ts";

/** Box sizes on the map, by node kind (ELK needs them before anything is drawn). */
export const NODE_SIZE = {
  step: { width: 240, height: 112 },
  trigger: { width: 240, height: 84 },
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

// Layered, top-down, keeping the steps' order where the graph allows it (the map reads like the file);
// edges are routed orthogonally around the boxes, with room for their labels.
const OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.spacing.nodeNode": "40",
  "elk.spacing.edgeNode": "20",
  "elk.spacing.edgeEdge": "12",
  "elk.spacing.edgeLabel": "4",
  "elk.layered.spacing.nodeNodeBetweenLayers": "48",
  "elk.layered.spacing.edgeNodeBetweenLayers": "20",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "12",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.edgeLabels.placement": "CENTER",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
};

const LABEL_HEIGHT = 18;
/** A label's box: ELK keeps room for it; the text is drawn centred in it. */
export const labelWidth = (text: string) => Math.ceil(text.length * 6.4) + 14;

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
    labels:
      e.label && e.label !== "next"
        ? [{ text: e.label, width: labelWidth(e.label), height: LABEL_HEIGHT }]
        : [],
  }));
  return { id: "root", layoutOptions: OPTIONS, children, edges };
}

/** The point of the polyline nearest to `p`. */
function onRoute(points: Point[], p: Point): Point {
  let best = points[0]!;
  let bestD = Infinity;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const len2 = (b.x - a.x) ** 2 + (b.y - a.y) ** 2 || 1;
    const t = Math.max(0, Math.min(1, ((p.x - a.x) * (b.x - a.x) + (p.y - a.y) * (b.y - a.y)) / len2));
    const q = { x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y) };
    const d = (q.x - p.x) ** 2 + (q.y - p.y) ** 2;
    if (d < bestD) {
      bestD = d;
      best = q;
    }
  }
  return best;
}

/** Lays a map out in one ELK call; the same structure is laid out once per page load. */
export async function layoutGraph(graph: MapGraph): Promise<Layout> {
  const key = layoutKey(graph);
  const hit = cache.get(key);
  if (hit) return hit;
  const result = await elk.layout(toElk(graph));
  const positions = new Map<string, Point>();
  for (const c of result.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  const routes: Layout["routes"] = new Map();
  for (const e of (result.edges ?? []) as ElkExtendedEdge[]) {
    const s = e.sections?.[0];
    if (!s) continue;
    const label = e.labels?.[0];
    const points = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
    routes.set(e.id, {
      points,
      // ELK keeps the label's room beside the edge; the label is drawn on the edge, next to that room.
      label:
        label && label.x !== undefined && label.y !== undefined
          ? onRoute(points, { x: label.x + (label.width ?? 0) / 2, y: label.y + (label.height ?? 0) / 2 })
          : undefined,
    });
  }
  const layout = { positions, routes };
  if (cache.size > 50) cache.clear();
  cache.set(key, layout);
  return layout;
}
