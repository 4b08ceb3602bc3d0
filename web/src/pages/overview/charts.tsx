import { useEffect, useRef } from "react";
// echarts through its core with only what these two charts draw: the overview chunk stays small and
// the main bundle never sees it.
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

const INK = "#5d6576";
const LINE = "#e2e5ee";
const ACCENT = "#4f46e5";

/** An echarts chart in a div that follows its container's width; options are replaced on change. */
function Chart(props: { option: echarts.EChartsCoreOption; height: number; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    const c = echarts.init(el.current!, undefined, { renderer: "canvas" });
    chart.current = c;
    const resize = new ResizeObserver(() => c.resize());
    resize.observe(el.current!);
    return () => {
      resize.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(props.option, { notMerge: true });
  }, [props.option]);
  return <div ref={el} style={{ height: props.height }} role="img" aria-label={props.label} />;
}

const timeAxis = {
  type: "time",
  axisLine: { lineStyle: { color: LINE } },
  axisLabel: { color: INK, hideOverlap: true },
  splitLine: { show: false },
} as const;
const valueAxis = {
  type: "value",
  minInterval: 1,
  axisLabel: { color: INK },
  splitLine: { lineStyle: { color: LINE } },
} as const;
const grid = { left: 8, right: 16, top: 16, bottom: 8, containLabel: true };

/** Events received per bucket over the window. */
export function EventsChart(props: { items: Array<{ at: string; count: number }>; bucketSeconds: number }) {
  const per =
    props.bucketSeconds >= 3600 ? `${props.bucketSeconds / 3600} h` : `${props.bucketSeconds / 60} min`;
  const option = {
    grid,
    tooltip: { trigger: "axis", valueFormatter: (v: number) => `${v.toLocaleString()} events` },
    xAxis: timeAxis,
    yAxis: valueAxis,
    series: [
      {
        name: `Events per ${per}`,
        type: "line",
        showSymbol: false,
        smooth: 0.2,
        lineStyle: { color: ACCENT, width: 2 },
        itemStyle: { color: ACCENT },
        areaStyle: { color: "rgba(79, 70, 229, 0.12)" },
        data: props.items.map((i) => [i.at, i.count]),
      },
    ],
  };
  return <Chart option={option} height={240} label={`Events received per ${per} over the last 24 hours`} />;
}

/** Messages by outcome per hour, stacked. */
export function MessagesChart(props: {
  items: Array<{ at: string; sent: number; skipped: number; failed: number }>;
}) {
  const bar = (name: string, key: "sent" | "skipped" | "failed", color: string) => ({
    name,
    type: "bar",
    stack: "outcome",
    barMaxWidth: 18,
    itemStyle: { color },
    data: props.items.map((i) => [i.at, i[key]]),
  });
  const option = {
    grid: { ...grid, top: 36 },
    legend: { top: 0, right: 0, textStyle: { color: INK }, itemWidth: 12, itemHeight: 8 },
    tooltip: { trigger: "axis" },
    xAxis: timeAxis,
    yAxis: valueAxis,
    series: [
      bar("Sent", "sent", "#15803d"),
      bar("Skipped", "skipped", "#d4a017"),
      bar("Failed", "failed", "#b91c1c"),
    ],
  };
  return (
    <Chart
      option={option}
      height={240}
      label="Messages sent, skipped and failed per hour over the last 24 hours"
    />
  );
}
