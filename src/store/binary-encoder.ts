import { protoInt64, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

/**
 * A protobuf binary encoder compiled from a message descriptor: the same bytes as protobuf-es's
 * toBinary (fields in number order, unknown fields last, the same presence rules and the same
 * errors for values out of range), several times faster. toBinary walks every message through its
 * reflection layer and writes each nested message and string into chunks of their own, then joins
 * them; this writes straight into one reused buffer, with a closure per field made once.
 * Measured on CreateTask's bench task (one executor, one input, resources, one tag), in one
 * process: toBinary 11-15 µs, this 1.8-2.9 µs; side by side, server CPU per REST CreateTask with 32
 * in flight fell from 161 to 147 µs (medians of five interleaved rounds).
 *
 * Every field kind proto3 and proto2 have is written, oneofs and maps with any key type included,
 * except groups (delimited encoding), which compiling refuses.
 */
export function compileBinaryEncoder<Desc extends DescMessage>(schema: Desc): (message: MessageShape<Desc>) => Uint8Array {
  const writeMessage = messageWriter(schema, new Map());
  return (message) => {
    pos = 0;
    writeMessage(message as unknown as Fields);
    const bytes = new Uint8Array(buf.subarray(0, pos));
    if (buf.length > KEPT_BYTES_MAX) allocate(INITIAL_BYTES);
    return bytes;
  };
}

/** A message's fields as its generated object holds them, by local name. */
type Fields = Record<string, unknown> & { $unknown?: ReadonlyArray<{ no: number; wireType: number; data: Uint8Array }> };
type Write = (message: Fields) => void;
type WriteValue = (value: never) => void;

// One buffer for every encode: an encode runs to its end synchronously, so none interleaves.
// It grows to the largest message written, and goes back to its first size after one over KEPT_BYTES_MAX.
const INITIAL_BYTES = 16 * 1024;
const KEPT_BYTES_MAX = 1024 * 1024;
let buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let pos = 0;

function allocate(bytes: number): void {
  buf = Buffer.allocUnsafeSlow(bytes);
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Makes room for `bytes` more at pos. */
function reserve(bytes: number): void {
  if (pos + bytes <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + bytes) size *= 2;
  const written = buf;
  allocate(size);
  written.copy(buf, 0, 0, pos);
}

/** WireType from @bufbuild/protobuf/wire, by number: the tag's low three bits. */
const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const BIT32 = 5;
/** FeatureSet.FieldPresence: IMPLICIT and LEGACY_REQUIRED. */
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

function messageWriter(desc: DescMessage, compiled: Map<DescMessage, Write>): Write {
  const known = compiled.get(desc);
  if (known !== undefined) return known;
  let fields: Write[] = [];
  const write: Write = (message) => {
    for (let i = 0; i < fields.length; i++) fields[i]!(message);
    const unknown = message.$unknown;
    if (unknown !== undefined) {
      for (const { no, wireType, data } of unknown) {
        uint32(((no << 3) | wireType) >>> 0);
        raw(data);
      }
    }
  };
  // Before the fields compile: a message that holds itself (directly or not) finds this writer.
  compiled.set(desc, write);
  fields = [...desc.fields].sort((a, b) => a.number - b.number).map((field) => fieldWriter(field, compiled));
  return write;
}

function fieldWriter(field: DescField, compiled: Map<DescMessage, Write>): Write {
  if ("delimitedEncoding" in field && field.delimitedEncoding) throw new Error(`cannot compile a binary encoder for ${field}: groups (delimited encoding) are not supported`);
  const name = field.localName;
  const value = valueWriter(field, compiled);
  if (field.oneof !== undefined) {
    const oneof = field.oneof.localName;
    return (message) => {
      const selected = message[oneof] as { case: string | undefined; value: unknown };
      if (selected.case === name) value(selected.value as never);
    };
  }
  if (field.fieldKind === "list") {
    return (message) => {
      const list = message[name] as unknown[];
      if (list.length > 0) value(list as never);
    };
  }
  if (field.fieldKind === "map") {
    return (message) => {
      const map = message[name] as Record<string, unknown>;
      if (hasKeys(map)) value(map as never);
    };
  }
  if (field.presence !== IMPLICIT) {
    const required = field.presence === LEGACY_REQUIRED;
    return (message) => {
      const set = message[name];
      if (set !== undefined && Object.prototype.hasOwnProperty.call(message, name)) value(set as never);
      else if (required) throw new Error(`cannot encode ${field} to binary: required field not set`);
    };
  }
  if (field.fieldKind === "enum") {
    const zero = field.enum.values[0]?.number ?? 0;
    return (message) => {
      const set = message[name];
      if (set !== zero) value(set as never);
    };
  }
  if (field.fieldKind === "message") throw new Error(`cannot compile a binary encoder for ${field}: a message field with implicit presence`);
  const isZero = zeroTest(field.scalar);
  return (message) => {
    const set = message[name];
    if (!isZero(set)) value(set as never);
  };
}

/** Writes a set field: its tag and value, or each element's, or each map entry. */
function valueWriter(field: DescField, compiled: Map<DescMessage, Write>): WriteValue {
  const where = `${field.parent.typeName}.${field.name}`;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const scalar = field.fieldKind === "scalar" ? field.scalar : ScalarType.INT32;
      return tagged(field.number, scalar, scalarWriter(scalar, where));
    }
    case "message": {
      const writeMessage = messageWriter(field.message, compiled);
      return nested(field.number, writeMessage);
    }
    case "list": {
      if (field.listKind === "message") {
        const writeItem = nested(field.number, messageWriter(field.message, compiled));
        return (list: Fields[]) => {
          for (let i = 0; i < list.length; i++) writeItem(list[i] as never);
        };
      }
      const scalar = field.listKind === "scalar" ? field.scalar : ScalarType.INT32;
      const writeScalar = scalarWriter(scalar, where);
      if (field.packed) {
        const tag = ((field.number << 3) | LENGTH_DELIMITED) >>> 0;
        return (list: unknown[]) => {
          uint32(tag);
          const start = beginLength();
          for (let i = 0; i < list.length; i++) writeScalar(list[i] as never);
          endLength(start);
        };
      }
      const writeItem = tagged(field.number, scalar, writeScalar);
      return (list: unknown[]) => {
        for (let i = 0; i < list.length; i++) writeItem(list[i] as never);
      };
    }
    case "map": {
      const tag = ((field.number << 3) | LENGTH_DELIMITED) >>> 0;
      const writeKey = tagged(1, field.mapKey, scalarWriter(field.mapKey, where));
      const keyOf = mapKeyReader(field.mapKey);
      let writeValue: WriteValue;
      if (field.mapKind === "message") writeValue = nested(2, messageWriter(field.message, compiled));
      else {
        const scalar = field.mapKind === "scalar" ? field.scalar : ScalarType.INT32;
        writeValue = tagged(2, scalar, scalarWriter(scalar, where));
      }
      return (map: Record<string, unknown>) => {
        for (const key in map) {
          uint32(tag);
          const start = beginLength();
          writeKey(keyOf(key) as never);
          writeValue(map[key] as never);
          endLength(start);
        }
      };
    }
  }
}

function hasKeys(map: Record<string, unknown>): boolean {
  for (const _ in map) return true;
  return false;
}

function tagged(number: number, scalar: ScalarType, writeScalar: WriteValue): WriteValue {
  const tag = ((number << 3) | wireTypeOf(scalar)) >>> 0;
  return (value) => {
    uint32(tag);
    writeScalar(value);
  };
}

function nested(number: number, writeMessage: Write): WriteValue {
  const tag = ((number << 3) | LENGTH_DELIMITED) >>> 0;
  return (message: Fields) => {
    uint32(tag);
    const start = beginLength();
    writeMessage(message);
    endLength(start);
  };
}

function wireTypeOf(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LENGTH_DELIMITED;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BIT64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return BIT32;
    default:
      return VARINT;
  }
}

/** The implicit-presence zero test of protobuf-es (isScalarZeroValue): -0 is written, 0n and "0" are zero. */
function zeroTest(scalar: ScalarType): (value: unknown) => boolean {
  switch (scalar) {
    case ScalarType.STRING:
      return (value) => value === "";
    case ScalarType.BOOL:
      return (value) => value === false;
    case ScalarType.BYTES:
      return (value) => value instanceof Uint8Array && value.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (value) => Object.is(value, 0);
    default:
      return (value) => value == 0;
  }
}

/**
 * A map's keys are the object's property names: back to the key field's type. Booleans and 32-bit
 * integers become their values; strings, and 64-bit integers (protoInt64 reads their decimal
 * text), stay as they are.
 */
function mapKeyReader(scalar: ScalarType): (key: string) => unknown {
  switch (scalar) {
    case ScalarType.BOOL:
      return (key) => key === "true";
    case ScalarType.INT32:
    case ScalarType.UINT32:
    case ScalarType.SINT32:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return (key) => Number(key);
    default:
      return (key) => key;
  }
}

/** Writes one scalar value, checked as protobuf-es's BinaryWriter checks it, with its error text. */
function scalarWriter(scalar: ScalarType, where: string): WriteValue {
  const write = uncheckedScalarWriter(scalar);
  return (value) => {
    try {
      write(value);
    } catch (error) {
      throw error instanceof Error ? new Error(`cannot encode field ${where} to binary: ${error.message}`) : error;
    }
  };
}

function uncheckedScalarWriter(scalar: ScalarType): WriteValue {
  switch (scalar) {
    case ScalarType.STRING:
      return string;
    case ScalarType.BYTES:
      return (value: Uint8Array) => {
        uint32(value.byteLength);
        raw(value);
      };
    case ScalarType.BOOL:
      return (value: boolean) => {
        reserve(1);
        buf[pos++] = value ? 1 : 0;
      };
    case ScalarType.DOUBLE:
      return (value: number) => fixedWidth(8, (at) => view.setFloat64(at, value, true));
    case ScalarType.FLOAT:
      return (value: number | string) => fixedWidth(4, (at) => view.setFloat32(at, asFloat32(value), true));
    case ScalarType.INT32:
      return (value: number | string) => int32(asInt32(value));
    case ScalarType.SINT32:
      return (value: number | string) => {
        const int = asInt32(value);
        uint32(((int << 1) ^ (int >> 31)) >>> 0);
      };
    case ScalarType.UINT32:
      return (value: number | string) => uint32(asUint32(value));
    case ScalarType.FIXED32:
      return (value: number | string) => fixedWidth(4, (at) => view.setUint32(at, asUint32(value), true));
    case ScalarType.SFIXED32:
      return (value: number | string) => fixedWidth(4, (at) => view.setInt32(at, asInt32(value), true));
    case ScalarType.INT64:
      return (value: bigint | string) => {
        const { lo, hi } = protoInt64.enc(value);
        varint64(lo, hi);
      };
    case ScalarType.UINT64:
      return (value: bigint | string) => {
        const { lo, hi } = protoInt64.uEnc(value);
        varint64(lo, hi);
      };
    case ScalarType.SINT64:
      return (value: bigint | string) => {
        const { lo, hi } = protoInt64.enc(value);
        const sign = hi >> 31;
        varint64((lo << 1) ^ sign, ((hi << 1) | (lo >>> 31)) ^ sign);
      };
    case ScalarType.FIXED64:
      return (value: bigint | string) => fixed64(protoInt64.uEnc(value));
    case ScalarType.SFIXED64:
      return (value: bigint | string) => fixed64(protoInt64.enc(value));
  }
}

function string(value: string): void {
  if (typeof value !== "string") throw new Error(`invalid string: ${typeof value}`);
  // Up to 42 UTF-16 units make at most 126 bytes: one length byte, known to suffice before writing.
  if (value.length <= 42) {
    reserve(1 + value.length * 3);
    const at = pos++;
    // ASCII, the usual text here, is copied in place: cheaper than a call into Buffer's native write.
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) {
        pos = at + 1;
        const length = buf.write(value, pos, "utf8");
        buf[at] = length;
        pos += length;
        return;
      }
      buf[pos++] = code;
    }
    buf[at] = value.length;
    return;
  }
  const length = Buffer.byteLength(value, "utf8");
  uint32(length);
  reserve(length);
  pos += buf.write(value, pos, length, "utf8");
}

/** Bytes as they are: a bytes field's after its length, an unknown field's after its tag. */
function raw(bytes: Uint8Array): void {
  reserve(bytes.byteLength);
  buf.set(bytes, pos);
  pos += bytes.byteLength;
}

function uint32(value: number): void {
  reserve(5);
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
}

/** A negative int32 is written as its 64-bit two's complement: ten bytes. */
function int32(value: number): void {
  if (value >= 0) uint32(value);
  else varint64(value, -1);
}

function varint64(lo: number, hi: number): void {
  reserve(10);
  while (hi !== 0 || lo >>> 0 > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
}

function fixed64({ lo, hi }: { lo: number; hi: number }): void {
  fixedWidth(8, (at) => {
    view.setInt32(at, lo, true);
    view.setInt32(at + 4, hi, true);
  });
}

/** `width` bytes at pos, written by `set` through the DataView (little-endian, as protobuf is). */
function fixedWidth(width: number, set: (at: number) => void): void {
  reserve(width);
  set(pos);
  pos += width;
}

/** A nested message's or packed list's length goes before it: one byte is kept for it, and the body moved if it needs more. */
function beginLength(): number {
  reserve(1);
  return pos++;
}

function endLength(start: number): void {
  const length = pos - start - 1;
  if (length < 0x80) {
    buf[start] = length;
    return;
  }
  const extra = length < 1 << 14 ? 1 : length < 1 << 21 ? 2 : length < 1 << 28 ? 3 : 4;
  reserve(extra);
  buf.copyWithin(start + 1 + extra, start + 1, pos);
  pos += extra;
  const end = pos;
  pos = start;
  uint32(length);
  pos = end;
}

// The checks of protobuf-es's BinaryWriter (assertInt32, assertUInt32, assertFloat32), with its messages.
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;
const FLOAT32_MAX = 3.4028234663852886e38;

function asInt32(value: number | string): number {
  const number = asNumber(value, "int32");
  if (!Number.isInteger(number) || number > INT32_MAX || number < INT32_MIN) throw new Error(`invalid int32: ${number}`);
  return number;
}

function asUint32(value: number | string): number {
  const number = asNumber(value, "uint32");
  if (!Number.isInteger(number) || number > UINT32_MAX || number < 0) throw new Error(`invalid uint32: ${number}`);
  return number;
}

function asFloat32(value: number | string): number {
  const number = asNumber(value, "float32");
  if (typeof value === "string" && Number.isNaN(number) && value !== "NaN") throw new Error(`invalid float32: ${value}`);
  if (Number.isFinite(number) && (number > FLOAT32_MAX || number < -FLOAT32_MAX)) throw new Error(`invalid float32: ${number}`);
  return number;
}

function asNumber(value: number | string, type: string): number {
  if (typeof value === "string") return Number(value);
  if (typeof value !== "number") throw new Error(`invalid ${type}: ${typeof value}`);
  return value;
}
