import {
  Background,
  BaseEdge,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  getSmoothStepPath,
  useReactFlow,
  useUpdateNodeInternals,
  useStore,
  type Connection,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { ErrorBox, formatNumber } from "../../../ui/components.tsx";
import type { Definition, StepStats } from "../types.ts";
import { layoutGraph, layoutKey, outputShare, sizeOf, type Layout, type Point } from "./layout.ts";
import { END_ID, KIND_LABELS, TRIGGER_ID, graphOf, type MapGraph, type MapNode } from "./model.ts";
import "./journey-map.css";

/** The path one instance took: steps it visited, edges (`from:label`) it went along, where it is. */
export interface MapPath {
  steps: Set<string>;
  edges: Set<string>;
  current: string | null;
}

export interface JourneyMapProps {
  definition: Definition;
  /** Live numbers per step id. */
  stats?: Map<string, StepStats> | undefined;
  /** How many people entered (shown on the trigger). */
  entered?: number | undefined;
  selected?: string | null | undefined;
  onSelect?: ((id: string | null) => void) | undefined;
  path?: MapPath | undefined;
  /** Violations by node id: those nodes are marked. */
  problems?: Map<string, string[]> | undefined;
  /** Edit mode: ways out can be dragged onto another step. */
  editable?: boolean | undefined;
  /** A way out (`output`, e.g. "next", "case 1", "timeout") of `from` dragged onto `to`. */
  onConnect?: ((from: string, output: string, to: string) => void) | undefined;
  height?: number | undefined;
  /** What the map shows, for screen readers. */
  label: string;
}

interface NodeData extends Record<string, unknown> {
  node: MapNode;
  stats: StepStats | undefined;
  entered: number | undefined;
  /** Numbers are known (a step nobody entered yet shows zeros). */
  live: boolean;
  problems: string[] | undefined;
  visited: boolean;
  current: boolean;
  editable: boolean;
}
type FlowNode = Node<NodeData>;

const StepNode = memo(function StepNode({ id, data, selected }: NodeProps<FlowNode>) {
  const { node, stats, problems, visited, current, editable } = data;
  // The box keeps its size when its ways out change (a branch renamed, a case added): xyflow has to be
  // told to measure the handles again, or edges from a new handle are not drawn.
  const updateInternals = useUpdateNodeInternals();
  const outputs = node.outputs.join("\u0000");
  const measured = useRef(outputs);
  useEffect(() => {
    if (measured.current === outputs) return;
    measured.current = outputs;
    updateInternals(id);
  }, [id, outputs, updateInternals]);
  const classes = [
    "jnode",
    `jnode-${node.kind}`,
    selected ? "is-selected" : "",
    problems?.length ? "is-bad" : "",
    visited ? "is-visited" : "",
    current ? "is-current" : "",
    editable ? "is-editable" : "",
  ].join(" ");
  const n = node.outputs.length;
  return (
    <div className={classes} title={problems?.join("\n")}>
      {node.kind !== "trigger" ? (
        <Handle type="target" position={Position.Top} isConnectable={editable} />
      ) : null}
      {node.kind === "end" ? (
        <div className="jnode-end">End</div>
      ) : (
        <>
          <div className="jnode-head">
            <span className="jnode-kind">{KIND_LABELS[node.kind]}</span>
            {problems?.length ? (
              <span className="jnode-problem" aria-label={`${problems.length} problem(s)`}>
                {problems.length} problem{problems.length === 1 ? "" : "s"}
              </span>
            ) : current ? (
              <span className="jnode-here">here now</span>
            ) : null}
          </div>
          <div className="jnode-title">{node.title}</div>
          <div className="jnode-summary">{node.summary}</div>
          {node.kind === "trigger" ? (
            data.entered !== undefined ? (
              <div className="jnode-stats">
                <span>
                  <b>{formatNumber(data.entered)}</b> entered
                </span>
              </div>
            ) : null
          ) : data.live ? (
            <div className="jnode-stats" data-testid={`stats-${node.id}`}>
              <span>
                <b data-stat="entered">{formatNumber(stats?.entered ?? 0)}</b> entered
              </span>
              <span>
                <b data-stat="waiting">{formatNumber(stats?.waiting ?? 0)}</b> waiting
              </span>
              <span>
                <b data-stat="exited">{formatNumber((stats?.entered ?? 0) - (stats?.waiting ?? 0))}</b> exited
              </span>
            </div>
          ) : null}
        </>
      )}
      {node.outputs.map((output, i) => (
        <Handle
          key={output}
          id={output}
          type="source"
          position={Position.Bottom}
          isConnectable={editable && node.kind !== "trigger"}
          style={{ left: `${outputShare(i, n) * 100}%` }}
          title={editable ? `drag to connect "${output}"` : undefined}
          aria-label={editable ? `way out "${output}" of ${node.title}` : undefined}
        />
      ))}
    </div>
  );
});

const NODE_TYPES = { step: StepNode };

interface EdgeData extends Record<string, unknown> {
  route: { points: Point[]; label: Point | undefined } | undefined;
}
type FlowEdge = Edge<EdgeData>;

/** An orthogonal polyline through `points`, its corners rounded. */
function roundedPath(points: Point[], radius = 8): string {
  let d = `M ${points[0]!.x} ${points[0]!.y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [a, b, c] = [points[i - 1]!, points[i]!, points[i + 1]!];
    const r = Math.min(radius, Math.hypot(b.x - a.x, b.y - a.y) / 2, Math.hypot(c.x - b.x, c.y - b.y) / 2);
    const towards = (p: Point, q: Point, len: number) => {
      const l = Math.hypot(q.x - p.x, q.y - p.y) || 1;
      return { x: p.x + ((q.x - p.x) / l) * len, y: p.y + ((q.y - p.y) / l) * len };
    };
    const p1 = towards(b, a, r);
    const p2 = towards(b, c, r);
    d += ` L ${p1.x} ${p1.y} Q ${b.x} ${b.y} ${p2.x} ${p2.y}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L ${last.x} ${last.y}`;
}

/** An edge along ELK's route (with its label where ELK made room), else a smooth step. */
function RoutedEdge(props: EdgeProps<FlowEdge>) {
  const route = props.data?.route;
  let path: string;
  let labelX: number;
  let labelY: number;
  if (route && route.points.length >= 2) {
    // The ends follow the handles xyflow measured; ELK's ports sit at the same spots.
    const points = [
      { x: props.sourceX, y: props.sourceY },
      ...route.points.slice(1, -1),
      { x: props.targetX, y: props.targetY },
    ];
    path = roundedPath(points);
    const mid = route.points[Math.floor(route.points.length / 2)]!;
    labelX = route.label?.x ?? mid.x;
    labelY = route.label?.y ?? mid.y;
  } else {
    [path, labelX, labelY] = getSmoothStepPath(props);
  }
  return (
    <BaseEdge
      path={path}
      labelX={labelX}
      labelY={labelY}
      label={props.label}
      labelBgPadding={props.labelBgPadding}
      labelBgBorderRadius={props.labelBgBorderRadius}
      markerEnd={props.markerEnd}
      style={props.style}
      interactionWidth={props.interactionWidth}
    />
  );
}

const EDGE_TYPES = { routed: RoutedEdge };

/** Marks the first layout on screen once, for the layout-speed benchmark. */
function RenderedMark(props: { started: number }) {
  // The boxes on screen mount together and are measured in one go; once measured, their edges are drawn.
  const initialized = useStore((s) => {
    for (const [, n] of s.nodeLookup) if (n.internals.handleBounds) return true;
    return false;
  });
  const done = useRef(false);
  useEffect(() => {
    if (!initialized || done.current) return;
    done.current = true;
    // The next frame paints what this commit drew; the mark follows that paint.
    requestAnimationFrame(() =>
      setTimeout(() => {
        performance.mark("waymark:map-rendered");
        performance.measure("waymark:map", { start: props.started, end: performance.now() });
      }, 0),
    );
  }, [initialized, props.started]);
  return null;
}

const READABLE_ZOOM = 0.55;

function firstView(graph: MapGraph, layout: Layout, box: HTMLElement | null) {
  const width = box?.clientWidth ?? 800;
  const height = box?.clientHeight ?? 600;
  let right = 0;
  let bottom = 0;
  for (const n of graph.nodes) {
    const p = layout.positions.get(n.id) ?? { x: 0, y: 0 };
    const size = sizeOf(n.kind);
    right = Math.max(right, p.x + size.width);
    bottom = Math.max(bottom, p.y + size.height);
  }
  const fit = Math.min(width / (right * 1.24), height / (bottom * 1.24), 1);
  if (fit >= READABLE_ZOOM) return "fit" as const;
  const top = layout.positions.get(TRIGGER_ID) ?? { x: 0, y: 0 };
  const zoom = READABLE_ZOOM;
  return { x: width / 2 - (top.x + sizeOf("trigger").width / 2) * zoom, y: 24, zoom };
}

/**
 * After the map is laid out again (a step added, removed or connected), keeps it in view: the whole
 * map when it is readable so, else the selected step.
 */
function FollowLayout(props: {
  graph: MapGraph;
  layout: Layout;
  selected: string | null | undefined;
  box: HTMLElement | null;
}) {
  const flow = useReactFlow();
  const seen = useRef(props.layout);
  const { graph, layout, selected, box } = props;
  useEffect(() => {
    if (seen.current === layout) return;
    seen.current = layout;
    requestAnimationFrame(() => {
      if (firstView(graph, layout, box) === "fit") void flow.fitView({ padding: 0.12, maxZoom: 1 });
      else if (selected) {
        const at = layout.positions.get(selected);
        if (at) void flow.setCenter(at.x + 120, at.y + 56, { zoom: flow.getZoom() });
      }
    });
  }, [flow, graph, layout, selected, box]);
  return null;
}

/**
 * A journey as a map (xyflow, laid out by ELK in one call per structure): each step a box with its
 * live numbers, each way out a labelled arrow. Read-only, or editable (drag a way out onto a step).
 */
export function JourneyMap(props: JourneyMapProps) {
  const graph = useMemo(() => graphOf(props.definition), [props.definition]);
  const structure = useMemo(() => layoutKey(graph), [graph]);
  const [laidOut, setLaidOut] = useState<Layout>();
  const [error, setError] = useState<unknown>();
  const started = useRef(performance.now());
  const graphRef = useRef(graph);
  graphRef.current = graph;

  const box = useRef<HTMLDivElement>(null);
  // The first view: the whole map when it is readable so, else its top at a readable zoom (a long
  // journey is read from its trigger down; only what is on screen is drawn).
  const [viewport, setViewport] = useState<"fit" | { x: number; y: number; zoom: number }>();

  useEffect(() => {
    let live = true;
    if (!laidOut) performance.mark("waymark:map-layout-start");
    layoutGraph(graphRef.current).then(
      (layout) => {
        if (!live) return;
        setLaidOut(layout);
        setViewport((v) => v ?? firstView(graphRef.current, layout, box.current));
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
    // Only a change of structure lays out again; names and numbers do not move boxes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [structure]);

  const { stats, entered, selected, path, problems, editable } = props;
  const nodes = useMemo<FlowNode[]>(() => {
    if (!laidOut) return [];
    return graph.nodes.map((node) => {
      const at = laidOut.positions.get(node.id) ?? { x: 0, y: 0 };
      const size = sizeOf(node.kind);
      return {
        id: node.id,
        type: "step",
        position: at,
        width: size.width,
        height: size.height,
        measured: size,
        selected: selected === node.id,
        selectable: node.id !== END_ID,
        ariaRole: "button",
        ariaLabel: `${node.kind === "end" ? "End of the journey" : `${node.title} (${KIND_LABELS[node.kind].toLowerCase()})`}${
          path?.current === node.id ? ", here now" : path?.steps.has(node.id) ? ", visited" : ""
        }`,
        data: {
          node,
          stats: stats?.get(node.id),
          entered: node.id === TRIGGER_ID ? entered : undefined,
          live: stats !== undefined,
          problems: problems?.get(node.id),
          visited: path?.steps.has(node.id) ?? false,
          current: path?.current === node.id,
          editable: editable ?? false,
        },
      };
    });
  }, [graph, laidOut, stats, entered, selected, path, problems, editable]);

  const edges = useMemo<FlowEdge[]>(
    () =>
      graph.edges.map((e) => {
        const taken = path?.edges.has(e.id) ?? false;
        return {
          id: e.id,
          type: "routed",
          data: { route: laidOut?.routes.get(e.id) },
          source: e.from,
          target: e.to,
          sourceHandle: e.from === TRIGGER_ID ? "start" : e.label,
          label: e.label && e.label !== "next" ? e.label : undefined,
          ariaLabel: `${e.from === TRIGGER_ID ? "trigger" : e.from} to ${e.to === END_ID ? "the end" : e.to}${e.label && e.label !== "next" ? ` (${e.label})` : ""}${taken ? ", taken" : ""}`,
          className: taken ? "is-taken" : path ? "is-not-taken" : "",
          // A marker scales with the stroke: the thicker taken edge gets a smaller one.
          markerEnd: taken
            ? { type: MarkerType.ArrowClosed, width: 10, height: 10, color: "#1d4ed8" }
            : { type: MarkerType.ArrowClosed, width: 16, height: 16, color: "#9aa3b8" },
          labelBgPadding: [6, 2] as [number, number],
          labelBgBorderRadius: 4,
          selectable: false,
          focusable: false,
        };
      }),
    [graph, path, laidOut],
  );

  const onNodesChange = (changes: NodeChange<FlowNode>[]) => {
    for (const c of changes) if (c.type === "select" && c.selected) props.onSelect?.(c.id);
  };
  const onConnect = (c: Connection) => {
    if (c.sourceHandle) props.onConnect?.(c.source, c.sourceHandle, c.target);
  };

  const height = props.height ?? 620;
  if (error) return <ErrorBox error={error} />;
  return (
    <div className="jmap" style={{ height }} aria-label={props.label} role="region" ref={box}>
      {!laidOut || !viewport ? (
        <div className="jmap-loading" role="status">
          Laying out the map…
        </div>
      ) : (
        <ReactFlow<FlowNode, FlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          edgeTypes={EDGE_TYPES}
          onNodesChange={onNodesChange}
          onPaneClick={() => props.onSelect?.(null)}
          onConnect={onConnect}
          isValidConnection={(c) => c.target !== TRIGGER_ID && c.source !== END_ID}
          nodesDraggable={false}
          nodesConnectable={editable ?? false}
          deleteKeyCode={null}
          onlyRenderVisibleElements
          {...(viewport === "fit"
            ? { fitView: true, fitViewOptions: { padding: 0.12, maxZoom: 1 } }
            : { defaultViewport: viewport })}
          minZoom={0.1}
          maxZoom={1.5}
        >
          <Background gap={24} size={1} />
          <Controls showInteractive={false} />
          <RenderedMark started={started.current} />
          <FollowLayout graph={graph} layout={laidOut} selected={selected} box={box.current} />
        </ReactFlow>
      )}
    </div>
  );
}
