// Minimal frame builder for the classify micro-benchmark: Ethernet + IPv4 + UDP/TCP with correct
// checksums, the same shape the generator sends.

function mac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function ipv4ToInt(text: string): number {
  const p = text.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

function sum16(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += buf.readUInt16BE(i);
  if ((end - start) % 2 === 1) sum += buf[end - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export interface FrameSpec {
  dstMac: string;
  srcMac: string;
  src: number;        // host-order IPv4
  dst: number;
  sport: number;
  dport: number;
  proto: 'udp' | 'tcp';
  tcpFlags?: number;  // default ACK
  size: number;       // Ethernet frame without FCS, >= 60
}

export function buildFrame(f: FrameSpec): Buffer {
  const l4len = f.proto === 'udp' ? 8 : 20;
  const size = Math.max(f.size, 14 + 20 + l4len, 60);
  const frame = Buffer.alloc(size);
  mac(f.dstMac).copy(frame, 0);
  mac(f.srcMac).copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  const ip = 14;
  const ipTotal = size - 14;
  frame[ip] = 0x45;
  frame.writeUInt16BE(ipTotal, ip + 2);
  frame.writeUInt16BE(0x4000, ip + 6);
  frame[ip + 8] = 64;
  frame[ip + 9] = f.proto === 'udp' ? 17 : 6;
  frame.writeUInt32BE(f.src >>> 0, ip + 12);
  frame.writeUInt32BE(f.dst >>> 0, ip + 16);
  frame.writeUInt16BE(fold(sum16(frame, ip, ip + 20)), ip + 10);
  const l4 = ip + 20;
  const l4Total = ipTotal - 20;
  frame.writeUInt16BE(f.sport, l4);
  frame.writeUInt16BE(f.dport, l4 + 2);
  if (f.proto === 'udp') {
    frame.writeUInt16BE(l4Total, l4 + 4);
  } else {
    frame.writeUInt32BE(1, l4 + 4);
    frame[l4 + 12] = 5 << 4;
    frame[l4 + 13] = f.tcpFlags ?? 0x10;
    frame.writeUInt16BE(64240, l4 + 14);
  }
  const pseudo = sum16(frame, ip + 12, ip + 20) + frame[ip + 9]! + l4Total;
  let csum = fold(sum16(frame, l4, l4 + l4Total, pseudo));
  if (f.proto === 'udp' && csum === 0) csum = 0xffff;
  frame.writeUInt16BE(csum, f.proto === 'udp' ? l4 + 6 : l4 + 16);
  return frame;
}
