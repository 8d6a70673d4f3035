// The thrift compact reader's numbers (shared/thriftCompact.ts): unsigned varints and zigzag ints
// up to 2^53 (file offsets and sizes past 4 GiB, row counts), read the same from a Buffer as from a
// plain Uint8Array, and a truncated value refused instead of read past the end.
import assert from 'node:assert/strict';
import { CompactReader } from '../../shared/thriftCompact.js';

/** LEB128 of a non-negative integer, computed in BigInt: the reference the reader must match. */
function leb128(value: bigint): number[] {
  const out: number[] = [];
  do {
    const low = Number(value & 0x7fn);
    value >>= 7n;
    out.push(value > 0n ? low | 0x80 : low);
  } while (value > 0n);
  return out;
}

const zigzag = (v: bigint) => (v >= 0n ? v * 2n : -v * 2n - 1n);

const VALUES = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 5_000_000_000_123, 2 ** 49 + 3, 2 ** 53 - 1];

describe('thrift compact reader numbers (thriftCompact.ts)', () => {
  it('reads every varint up to 2^53 exactly, one after another', () => {
    const bytes = Uint8Array.from(VALUES.flatMap((v) => leb128(BigInt(v))));
    const r = new CompactReader(bytes, 0);
    assert.deepEqual(VALUES.map(() => r.varint()), VALUES);
    assert.equal(r.at, bytes.length);
  });

  it('reads zigzag ints of either sign (their zigzag form up to 2^53)', () => {
    const ints = VALUES.filter((v) => v < 2 ** 52).flatMap((v) => (v === 0 ? [0] : [v, -v]));
    const r = new CompactReader(Uint8Array.from(ints.flatMap((v) => leb128(zigzag(BigInt(v))))), 0);
    assert.deepEqual(ints.map(() => r.int()), ints);
  });

  it('reads a Buffer (a view into a larger one, as a file read gives) as it reads a Uint8Array', () => {
    const encoded = VALUES.flatMap((v) => leb128(BigInt(v)));
    const pool = Buffer.alloc(encoded.length + 16, 0xff);
    pool.set(encoded, 8);
    const fromBuffer = new CompactReader(pool.subarray(8, 8 + encoded.length), 0);
    assert.deepEqual(VALUES.map(() => fromBuffer.varint()), VALUES);
    const text = Buffer.from('interval_time');
    const withString = Buffer.concat([Buffer.from([0xaa]), Buffer.from(leb128(BigInt(text.length))), text]).subarray(1);
    const r = new CompactReader(withString, 0);
    assert.equal(r.string(), 'interval_time');
    assert.deepEqual([...new CompactReader(withString, 0).binary()], [...text]);
  });

  it('refuses a varint cut short instead of reading past the end', () => {
    const cut = Uint8Array.from(leb128(BigInt(2 ** 40)).slice(0, -1));
    assert.throws(() => new CompactReader(cut, 0).varint(), /the bytes end inside a value/);
  });
});
