#!/usr/bin/env python3
"""fastavro_check: cross-checks Affidavit's Avro single-object events with fastavro.

An Avro implementation we did not write reads our bytes and writes bytes for us to read.

Reads one JSON object on stdin:
  {"shared":  [<.avsc JSON>, ...],            # named records other schemas refer to
   "records": [<.avsc JSON>, ...],            # one record schema per event type
   "decode":  [{"id": str, "b64": str}, ...], # single-object bytes to decode
   "encode":  [{"id": str, "type": str, "value": <event JSON>}, ...]}
Prints one JSON object on stdout:
  {"fastavro": version,
   "schemas":  {name: {"fingerprint": hex (little-endian, as in the header), "canonical": str}},
   "decoded":  [{"id", "type", "value"} | {"id", "error"}],
   "encoded":  [{"id", "b64"} | {"id", "error"}]}

In event JSON, bytes are {"$bytes": base64}; timestamp-micros values are integers (microseconds).
Exit status 0 unless the input itself could not be read.
"""

import base64
import datetime
import io
import json
import os
import sys
import tempfile

import fastavro
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def fullname(schema):
    name = schema["name"]
    if "." in name or not schema.get("namespace"):
        return name
    return schema["namespace"] + "." + name


def load_all(shared, records, folder):
    """Resolves references with fastavro's own loader: one <fullname>.avsc file per schema."""
    for s in shared + records:
        with open(os.path.join(folder, fullname(s) + ".avsc"), "w") as f:
            json.dump(s, f)
    return {r["name"]: load_schema(os.path.join(folder, fullname(r) + ".avsc")) for r in records}


def to_json(v):
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def from_json(v):
    if isinstance(v, dict):
        if set(v) == {"$bytes"}:
            return base64.b64decode(v["$bytes"])
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def main():
    req = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as folder:
        parsed = load_all(req["shared"], req["records"], folder)
    schemas = {}
    by_fp = {}
    for name, schema in parsed.items():
        canonical = to_parsing_canonical_form(schema)
        fp = fingerprint(canonical, "CRC-64-AVRO")
        schemas[name] = {"fingerprint": fp, "canonical": canonical}
        by_fp[fp] = (name, schema)

    decoded = []
    for item in req.get("decode", []):
        raw = base64.b64decode(item["b64"])
        try:
            if raw[:2] != MAGIC:
                raise ValueError("missing C3 01 marker")
            fp = raw[2:10].hex()
            if fp not in by_fp:
                raise ValueError("unknown fingerprint " + fp)
            name, schema = by_fp[fp]
            fo = io.BytesIO(raw[10:])
            value = fastavro.schemaless_reader(fo, schema)
            if fo.tell() != len(raw) - 10:
                raise ValueError("%d trailing bytes" % (len(raw) - 10 - fo.tell()))
            decoded.append({"id": item["id"], "type": name, "value": to_json(value)})
        except Exception as e:  # report per item; the caller asserts on it
            decoded.append({"id": item["id"], "error": "%s: %s" % (type(e).__name__, e)})

    encoded = []
    for item in req.get("encode", []):
        try:
            schema = parsed[item["type"]]
            fo = io.BytesIO()
            fo.write(MAGIC)
            fo.write(bytes.fromhex(schemas[item["type"]]["fingerprint"]))
            fastavro.schemaless_writer(fo, schema, from_json(item["value"]), strict=True)
            encoded.append({"id": item["id"], "b64": base64.b64encode(fo.getvalue()).decode()})
        except Exception as e:
            encoded.append({"id": item["id"], "error": "%s: %s" % (type(e).__name__, e)})

    json.dump({"fastavro": fastavro.__version__, "schemas": schemas, "decoded": decoded, "encoded": encoded}, sys.stdout)


if __name__ == "__main__":
    main()
