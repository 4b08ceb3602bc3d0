/** One line of a line diff: kept, removed from the old text or added in the new one. */
export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
  /** Line numbers in the old and the new text (1-based), where the line exists. */
  oldNo?: number;
  newNo?: number;
}

/** Above this many cells the middle is shown as removed-then-added instead of an exact LCS. */
const MAX_CELLS = 4_000_000;

/**
 * The lines of `a` and `b` as a diff (longest common subsequence). The common start and end are
 * trimmed first, so a small edit of a long definition stays cheap.
 */
export function diffLines(a: string, b: string): DiffLine[] {
  const x = a.split("\n");
  const y = b.split("\n");
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ op: " ", text: x[i]!, oldNo: i + 1, newNo: i + 1 });
  const n = endX - start;
  const m = endY - start;
  if (n * m > MAX_CELLS) {
    for (let i = start; i < endX; i++) out.push({ op: "-", text: x[i]!, oldNo: i + 1 });
    for (let j = start; j < endY; j++) out.push({ op: "+", text: y[j]!, newNo: j + 1 });
  } else {
    // lcs[i][j]: the LCS length of x[start+i..endX) and y[start+j..endY), in one flat array.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        lcs[i * w + j] =
          x[start + i] === y[start + j]
            ? lcs[(i + 1) * w + j + 1]! + 1
            : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[start + i] === y[start + j]) {
        out.push({ op: " ", text: x[start + i]!, oldNo: start + i + 1, newNo: start + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        out.push({ op: "-", text: x[start + i]!, oldNo: start + i + 1 });
        i++;
      } else {
        out.push({ op: "+", text: y[start + j]!, newNo: start + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < x.length - endX; k++)
    out.push({ op: " ", text: x[endX + k]!, oldNo: endX + k + 1, newNo: endY + k + 1 });
  return out;
}

/** Hunks of a diff: changed lines with `context` kept lines around them; null marks a gap. */
export function hunks(lines: DiffLine[], context = 3): Array<DiffLine | null> {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((l, i) => {
    if (l.op === " ") return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out: Array<DiffLine | null> = [];
  lines.forEach((l, i) => {
    if (keep[i]) out.push(l);
    else if (out.length === 0 || out[out.length - 1] !== null) out.push(null);
  });
  if (out[out.length - 1] === null) out.pop();
  return out;
}
