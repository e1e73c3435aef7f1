/**
 * A grouped bar chart as PNG, with node:zlib only: an RGB raster, filled
 * rectangles and a 3x5 pixel font (scaled) for the labels.
 */
import { deflateSync } from 'node:zlib';

type Rgb = readonly [number, number, number];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

const crc32 = (bytes: Buffer): number => {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

const pngChunk = (type: string, data: Buffer): Buffer => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
};

export const createRaster = (width: number, height: number, background: Rgb) => {
  const pixels = Buffer.alloc(width * height * 3);
  const fill = (x: number, y: number, w: number, h: number, [r, g, b]: Rgb) => {
    for (let j = Math.max(0, y); j < Math.min(height, y + h); j++) {
      for (let i = Math.max(0, x); i < Math.min(width, x + w); i++) {
        const at = (j * width + i) * 3;
        pixels[at] = r;
        pixels[at + 1] = g;
        pixels[at + 2] = b;
      }
    }
  };
  fill(0, 0, width, height, background);
  return {
    width,
    height,
    fill,
    text(x: number, y: number, s: string, scale: number, color: Rgb) {
      let cx = x;
      for (const ch of s.toUpperCase()) {
        const rows = FONT[ch] ?? FONT['?'] ?? [];
        rows.forEach((row, j) => {
          for (let i = 0; i < 3; i++) {
            if (row & (4 >> i)) fill(cx + i * scale, y + j * scale, scale, scale, color);
          }
        });
        cx += 4 * scale;
      }
    },
    png(): Buffer {
      const raw = Buffer.alloc((width * 3 + 1) * height);
      for (let j = 0; j < height; j++) {
        raw[j * (width * 3 + 1)] = 0; // filter: none
        pixels.copy(raw, j * (width * 3 + 1) + 1, j * width * 3, (j + 1) * width * 3);
      }
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(width, 0);
      ihdr.writeUInt32BE(height, 4);
      ihdr[8] = 8; // bit depth
      ihdr[9] = 2; // colour type: RGB
      return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', deflateSync(raw)),
        pngChunk('IEND', Buffer.alloc(0)),
      ]);
    },
  };
};

export const textWidth = (s: string, scale: number) => s.length * 4 * scale;

/** 3x5 glyphs, one number per row, bit 4 = left column. */
const FONT: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [7, 4, 4, 4, 7],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  G: [7, 4, 5, 5, 7],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  J: [1, 1, 1, 5, 7],
  K: [5, 5, 6, 5, 5],
  L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5],
  N: [6, 5, 5, 5, 5],
  O: [7, 5, 5, 5, 7],
  P: [7, 5, 7, 4, 4],
  Q: [7, 5, 5, 7, 1],
  R: [6, 5, 6, 5, 5],
  S: [7, 4, 7, 1, 7],
  T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2],
  W: [5, 5, 7, 7, 5],
  X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
  ' ': [0, 0, 0, 0, 0],
  '.': [0, 0, 0, 0, 2],
  ',': [0, 0, 0, 2, 4],
  ':': [0, 2, 0, 2, 0],
  '/': [1, 1, 2, 4, 4],
  '-': [0, 0, 7, 0, 0],
  '=': [0, 7, 0, 7, 0],
  '(': [2, 4, 4, 4, 2],
  ')': [2, 1, 1, 1, 2],
  '%': [5, 1, 2, 4, 5],
  '?': [7, 1, 2, 0, 2],
};

export type BarGroup = { label: string; values: readonly number[] };

/** Groups of bars (one colour per series) on a common scale from 0, with a legend. */
export const barChart = (opts: {
  title: string;
  series: readonly string[];
  groups: readonly BarGroup[];
  unit: string;
}): Buffer => {
  const colors: Rgb[] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
  ];
  const ink: Rgb = [30, 30, 30];
  const barW = 28;
  const groupW = barW * opts.series.length + 30;
  const left = 90;
  const top = 80;
  const plotH = 360;
  // legend entries side by side, each as wide as its name
  const legendX: number[] = [];
  let legendEnd = left;
  for (const name of opts.series) {
    legendX.push(legendEnd);
    legendEnd += 20 + textWidth(name, 2) + 40;
  }
  const width = Math.max(700, left + groupW * opts.groups.length + 40, legendEnd);
  const height = top + plotH + 90;
  const r = createRaster(width, height, [255, 255, 255]);
  r.text(left, 16, opts.title, 3, ink);
  opts.series.forEach((s, i) => {
    const x = legendX[i] ?? left;
    r.fill(x, 46, 14, 14, colors[i % colors.length] as Rgb);
    r.text(x + 20, 47, s, 2, ink);
  });
  const max = Math.max(1, ...opts.groups.flatMap((g) => g.values));
  const step = 10 ** Math.floor(Math.log10(max));
  const top10 = Math.ceil(max / step) * step;
  for (let t = 0; t <= 5; t++) {
    const v = (top10 * t) / 5;
    const y = top + plotH - Math.round((v / top10) * plotH);
    r.fill(left - 4, y, width - left - 20, 1, [220, 220, 220]);
    const label = v >= 1000 ? `${Math.round(v / 1000)}K` : String(Math.round(v));
    r.text(left - 10 - textWidth(label, 2), y - 5, label, 2, ink);
  }
  r.text(8, top - 20, opts.unit, 2, ink);
  opts.groups.forEach((g, gi) => {
    const x0 = left + 10 + gi * groupW;
    g.values.forEach((v, si) => {
      const h = Math.round((v / top10) * plotH);
      r.fill(x0 + si * barW, top + plotH - h, barW - 4, h, colors[si % colors.length] as Rgb);
    });
    const lines = g.label.split('\n');
    lines.forEach((line, li) => {
      r.text(x0, top + plotH + 10 + li * 14, line, 2, ink);
    });
  });
  r.fill(left - 4, top + plotH, width - left - 20, 2, ink);
  return r.png();
};
