// Small inline-SVG bar charts (no library): one stacked bar per time bucket, done below failed.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 240;
const HEIGHT = 60;

function node(tag, attrs) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  return element;
}

/** An <svg> with one bar per bucket `{succeeded, failed}`; `label(bucket)` is each bar's tooltip. */
export function drawBars(buckets, label) {
  const svg = node("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  const most = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const step = WIDTH / buckets.length;
  buckets.forEach((bucket, i) => {
    const group = node("g", { "data-bucket": i });
    const title = node("title", {});
    title.textContent = label(bucket);
    group.append(title);
    const okHeight = (bucket.succeeded / most) * (HEIGHT - 2);
    const badHeight = (bucket.failed / most) * (HEIGHT - 2);
    const x = i * step + 1;
    const width = Math.max(1, step - 2);
    group.append(node("rect", { class: "bar-ok", x, y: HEIGHT - okHeight, width, height: okHeight }));
    group.append(node("rect", { class: "bar-bad", x, y: HEIGHT - okHeight - badHeight, width, height: badHeight }));
    // An invisible full-height target so the tooltip shows on empty buckets too.
    group.append(node("rect", { x: i * step, y: 0, width: step, height: HEIGHT, fill: "transparent" }));
    svg.append(group);
  });
  return svg;
}
