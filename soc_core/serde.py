"""Serialisation of everything that crosses the bus or the disk.

Raw records and dead letters travel as msgpack (bytes stay bytes); ECS events and detections as
JSON via orjson (readable in Kafka tools and Elasticsearch).
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from soc_core.models import Alert, DeadLetter, Detection, RawRecord

_raw_enc = msgspec.msgpack.Encoder()
_raw_dec = msgspec.msgpack.Decoder(RawRecord)
_dl_dec = msgspec.msgpack.Decoder(DeadLetter)
_json_enc = msgspec.json.Encoder()
_det_dec = msgspec.json.Decoder(Detection)
_alert_dec = msgspec.json.Decoder(Alert)


def encode_raw(record: RawRecord) -> bytes:
    return _raw_enc.encode(record)


def decode_raw(data: bytes) -> RawRecord:
    return _raw_dec.decode(data)


def encode_dead_letter(letter: DeadLetter) -> bytes:
    return _raw_enc.encode(letter)


def decode_dead_letter(data: bytes) -> DeadLetter:
    return _dl_dec.decode(data)


def encode_event(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def decode_event(data: bytes | str) -> dict[str, Any]:
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError("an ECS event must be a JSON object")
    return value


def encode_detection(detection: Detection) -> bytes:
    return _json_enc.encode(detection)


def decode_detection(data: bytes) -> Detection:
    return _det_dec.decode(data)


def encode_alert(alert: Alert) -> bytes:
    return _json_enc.encode(alert)


def decode_alert(data: bytes) -> Alert:
    return _alert_dec.decode(data)
