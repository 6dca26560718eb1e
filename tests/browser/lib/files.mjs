// Real files for the upload tests, built byte by byte so that the server's content checks
// (PROTOCOL 10.1) see exactly what a phone or scanner would send.
import zlib from 'node:zlib';

// A real PNG: 4×4 pixels of red, every chunk with its CRC, ending exactly after IEND.
export function tinyPng() {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const w = 4, hgt = 4;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(hgt, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // 8-bit RGB
  const raw = Buffer.alloc(hgt * (1 + w * 3));
  for (let y = 0; y < hgt; y++) for (let x = 0; x < w; x++) raw[y * (1 + w * 3) + 1 + x * 3] = 0xd5;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
