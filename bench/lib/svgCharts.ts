// Small SVG charts of the bench's figures, written to bench/results/: a
// hand-written writer (lines and grouped bars with axes, a legend and the
// figures as text) rather than a charting library, as the bench needs three
// plain kinds and no browser.

export interface Series {
  name: string;
  points: readonly (readonly [x: number, y: number])[];
}

const W = 720;
const H = 360;
const M = { left: 64, right: 170, top: 40, bottom: 48 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 100 ? String(Math.round(v)) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Rounded-up axis maximum with ~5 ticks. */
function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, yLabel: string, xLabel: string, yTicks: number[], body: string, legend: string[]): string {
  const plotH = H - M.top - M.bottom;
  const yMax = yTicks.at(-1)!;
  const y = (v: number) => M.top + plotH - (v / yMax) * plotH;
  const grid = yTicks
    .map((v) => `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
    .join('');
  const items = legend
    .map((name, i) => `<rect x="${W - M.right + 12}" y="${M.top + i * 20}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/><text x="${W - M.right + 30}" y="${M.top + i * 20 + 10}">${esc(name)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>
${grid}
<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>
<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>
<text x="16" y="${M.top + plotH / 2}" transform="rotate(-90 16 ${M.top + plotH / 2})" text-anchor="middle">${esc(yLabel)}</text>
<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>
${body}
${items}
</svg>
`;
}

/** Grouped bars: one group per category, one bar per series (values in the same order as `series`). */
export function barChart(o: { title: string; yLabel: string; xLabel: string; categories: string[]; series: { name: string; values: number[] }[] }): string {
  const yTicks = ticks(Math.max(...o.series.flatMap((s) => s.values.filter(Number.isFinite))));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const yMax = yTicks.at(-1)!;
  const group = plotW / o.categories.length;
  const bar = (group * 0.8) / o.series.length;
  let body = '';
  o.categories.forEach((category, c) => {
    const x0 = M.left + c * group + group * 0.1;
    o.series.forEach((s, i) => {
      const v = s.values[c] ?? NaN;
      if (!Number.isFinite(v)) return;
      const h = (v / yMax) * plotH;
      const x = x0 + i * bar;
      body += `<rect x="${x}" y="${M.top + plotH - h}" width="${bar - 2}" height="${h}" fill="${COLOURS[i % COLOURS.length]}"><title>${esc(`${s.name} ${category}: ${fmt(v)}`)}</title></rect>`;
      body += `<text x="${x + bar / 2 - 1}" y="${M.top + plotH - h - 3}" text-anchor="middle" font-size="10">${fmt(v)}</text>`;
    });
    body += `<text x="${x0 + group * 0.4}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(category)}</text>`;
  });
  return frame(o.title, o.yLabel, o.xLabel, yTicks, body, o.series.map((s) => s.name));
}

/** Lines over a numeric x axis (optionally log10), one per series; a second y scale is not drawn: series share the axis. */
export function lineChart(o: { title: string; yLabel: string; xLabel: string; series: Series[]; logX?: boolean }): string {
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  const xMin = Math.min(...xs.map(tx));
  const xMax = Math.max(...xs.map(tx));
  const yTicks = ticks(Math.max(...o.series.flatMap((s) => s.points.map((p) => p[1]).filter(Number.isFinite))));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const yMax = yTicks.at(-1)!;
  const X = (x: number) => M.left + (xMax === xMin ? plotW / 2 : ((tx(x) - xMin) / (xMax - xMin)) * plotW);
  const Y = (v: number) => M.top + plotH - (v / yMax) * plotH;
  let body = '';
  const xLabels = [...new Set(xs)].sort((a, b) => a - b);
  const shown = xLabels.length <= 12 ? xLabels : xLabels.filter((_, i) => i % Math.ceil(xLabels.length / 10) === 0);
  for (const x of shown) body += `<text x="${X(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(x)}</text>`;
  o.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    body += `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`;
    for (const [x, y] of pts) body += `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${colour}"><title>${esc(`${s.name} at ${fmt(x)}: ${fmt(y)}`)}</title></circle>`;
  });
  return frame(o.title, o.yLabel, o.xLabel, yTicks, body, o.series.map((s) => s.name));
}
