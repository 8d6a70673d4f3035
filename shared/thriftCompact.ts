// The thrift compact protocol (parquet's footers and page headers), read by hand: only the fields a
// caller asks for, everything else skipped without building objects. hyparquet's full parse of a
// 7,300-column footer makes an object per column chunk and per statistic (about 110 ms, then the
// garbage collection of them); the profile's decoder and the merge's checks need a few fields.

/** The thrift compact protocol, reading what a footer or a page header needs and skipping the rest. */
export class CompactReader {
  private readonly bytes: Uint8Array;

  constructor(
    bytes: Uint8Array,
    public at: number,
  ) {
    // A Buffer is a Uint8Array of another shape: reading both through one reader made the
    // optimised code give up on the byte loads and be compiled again. Always a plain view here.
    this.bytes = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  }

  varint(): number {
    let value = 0;
    // 128 to the power of the byte's place, kept as a product: `2 ** shift` with a variable shift
    // is a call to the C library's pow for every byte (1.8 % of a 20,000-row refresh's CPU).
    let scale = 1;
    for (;;) {
      // Past the end (a truncated or damaged footer) would read undefined forever.
      if (this.at >= this.bytes.length) throw new Error('thrift: the bytes end inside a value');
      const b = this.bytes[this.at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 0x80;
    }
  }

  /** A zigzag i16, i32 or i64 (exact up to 2^53). */
  int(): number {
    const v = this.varint();
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  }

  string(): string {
    const length = this.varint();
    const text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.at, length).toString('utf8');
    this.at += length;
    return text;
  }

  /** A binary field's bytes, a view into the footer's (not a copy). */
  binary(): Uint8Array {
    const length = this.varint();
    if (this.at + length > this.bytes.length) throw new Error('thrift: the bytes end inside a value');
    const bytes = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }

  /** Calls `item` for each element of a list; returns their count. */
  list(item: (type: number) => void): number {
    const head = this.bytes[this.at++]!;
    const size = head >> 4 === 15 ? this.varint() : head >> 4;
    for (let i = 0; i < size; i++) item(head & 0x0f);
    return size;
  }

  /** Calls `field` for each field id and type; a field it does not read (false) is skipped. */
  struct(field: (id: number, type: number) => boolean): void {
    let id = 0;
    for (;;) {
      if (this.at >= this.bytes.length) throw new Error('thrift: the bytes end inside a struct');
      const head = this.bytes[this.at++]!;
      if (head === 0) return;
      const type = head & 0x0f;
      id = head >> 4 ? id + (head >> 4) : this.int();
      if (!field(id, type)) this.skip(type);
    }
  }

  skip(type: number): void {
    switch (type) {
      case 1: // true
      case 2: // false
        return;
      case 3: // byte
        this.at++;
        return;
      case 4: // i16
      case 5: // i32
      case 6: // i64
        this.varint();
        return;
      case 7: // double
        this.at += 8;
        return;
      case 8: {
        // binary (the length read first: `at += varint()` would add to the position before it)
        const length = this.varint();
        this.at += length;
        return;
      }
      case 9: // list
      case 10: // set
        // (A list's booleans are a byte each, not folded into a field header.)
        this.list((t) => (t === 1 || t === 2 ? void this.at++ : this.skip(t)));
        return;
      case 11: {
        // map
        const size = this.varint();
        if (size === 0) return;
        const types = this.bytes[this.at++]!;
        for (let i = 0; i < size; i++) {
          this.skip(types >> 4);
          this.skip(types & 0x0f);
        }
        return;
      }
      case 12: // struct
        this.struct(() => false);
        return;
      default:
        throw new Error(`thrift: type ${type} not expected`);
    }
  }
}
