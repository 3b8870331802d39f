"""The OpenAPI 3 document of the trigger API, served at `/openapi.json` (tested with schemathesis)."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

NUM = {"type": "number"}
INT = {"type": "integer"}
STR = {"type": "string"}
NULLABLE_NUM = {"type": ["number", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_STR = {"type": ["string", "null"]}
JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {401: "no or wrong bearer token", 403: "not the job's owner nor an admin", 404: "not found",
            422: "invalid request: one entry per offending field", 429: "no window free (see Retry-After)",
            502: "a playbook run failed", 503: "not ready, busy or the cluster refused", 504: "timed out"}
    return {str(c): {"description": text[c], "content": JSON_ERROR} for c in codes}


JOB_ID = {"name": "job_id", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,3})-[0-9]{5}$"}}
RANGE = {"type": "object", "properties": {"min": NUM, "max": NUM}}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {
            "error": STR, "message": STR,
            "errors": {"type": "array", "items": _ref("FieldError")},
        },
    },
    "FieldError": {"type": "object", "required": ["field", "value", "rule"],
                   "properties": {"field": STR, "value": {}, "rule": STR}},
    "ConfigureRequest": {
        "type": "object",
        "required": ["nfftSelection", "displayInfo", "channels", "view_type"],
        "properties": {
            "displayTimeAxisDuration": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "nfftSelection": {"type": "integer", "minimum": 1, "maximum": 65536},
            "displayInfo": {"type": "object", "required": ["height"],
                            "properties": {"height": {"type": "integer", "minimum": 1}}},
            "channels": {"type": "object", "required": ["min", "max"],
                         "properties": {"min": {"type": "integer", "minimum": 1, "maximum": 2222},
                                        "max": {"type": "integer", "minimum": 1, "maximum": 2222}}},
            "frequencyRange": {"type": ["object", "null"], "properties": {
                "min": {"type": "number", "minimum": 0, "maximum": 1000},
                "max": {"type": "number", "minimum": 0, "maximum": 1000}}},
            "start_time": NULLABLE_NUM,
            "end_time": NULLABLE_NUM,
            "view_type": {"oneOf": [{"type": "integer", "enum": [0, 1, 2]},
                                    {"type": "string", "enum": ["0", "1", "2"]}]},
        },
    },
    "ViewFields": {
        "type": "object",
        "required": ["view_type", "frequencies_list", "frequencies_amount", "lines_dt", "channel_amount",
                     "stream_amount", "channel_to_stream_index"],
        "properties": {
            "view_type": INT, "frequencies_list": {"type": "array", "items": NUM},
            "frequencies_amount": INT, "lines_dt": NUM, "channel_amount": INT, "stream_amount": INT,
            "channel_to_stream_index": {"type": "object", "additionalProperties": INT},
        },
    },
    "ConfigureResponse": {"allOf": [_ref("ViewFields"), {
        "type": "object", "required": ["status", "job_id", "stream_url", "stream_port"],
        "properties": {"status": STR, "job_id": STR, "stream_url": STR, "stream_port": NULLABLE_INT}}]},
    "ConfigureAccepted": {"allOf": [_ref("ViewFields"), {
        "type": "object", "required": ["status", "job_id", "run_id"],
        "properties": {"status": {"const": "Creating"}, "job_id": STR, "run_id": STR}}]},
    "Job": {
        "type": "object", "required": ["job_id", "phase"],
        "properties": {
            "job_id": STR, "phase": STR, "reason": NULLABLE_STR, "window": NULLABLE_INT,
            "owner": NULLABLE_STR, "kind": NULLABLE_STR, "mode": NULLABLE_STR, "uid": NULLABLE_STR,
            "created": NULLABLE_STR, "stream_url": NULLABLE_STR, "stream_port": NULLABLE_INT,
            "run_id": STR, "pod": {"type": ["object", "null"]}, "objects": {"type": "object"},
        },
    },
    "Deleted": {"type": "object", "required": ["job_id", "status"],
                "properties": {"job_id": STR, "status": {"enum": ["Deleted", "Deleting"]}, "run_id": STR,
                               "result": {"type": "object"}}},
    "LiveMetadata": {"type": "object", "properties": {
        "prr": NULLABLE_NUM, "dx": NULLABLE_NUM, "num_samples_per_trace": NULLABLE_INT, "dtype": NULLABLE_STR,
        "fiber_start_meters": NULLABLE_NUM, "fiber_length_meters": NULLABLE_NUM, "sw_version": NULLABLE_STR,
        "number_of_channels": NULLABLE_INT, "fiber_description": NULLABLE_STR}},
    "TimeRange": {"type": "object", "required": ["start_time", "end_time"],
                  "properties": {"start_time": NUM, "end_time": NUM}},
}

PATHS = {
    "/configure": {"post": {
        "summary": "Configure a streaming job (Focus-compatible); sync unless `Prefer: respond-async`",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ConfigureRequest")}}},
        "parameters": [{"name": "Prefer", "in": "header", "required": False, "schema": STR}],
        "responses": {
            "200": _json(_ref("ConfigureResponse"), "the stream is ready"),
            "202": {**_json(_ref("ConfigureAccepted"), "admitted; poll Location"),
                    "headers": {"Location": {"schema": STR}}},
            **_errors(401, 422, 429, 502, 503, 504),
        },
    }},
    "/jobs": {"get": {"summary": "Every job, from the watch-fed cache", "responses": {
        "200": _json({"type": "object", "required": ["jobs"],
                      "properties": {"jobs": {"type": "array", "items": _ref("Job")}}}, "jobs"),
        **_errors(401, 503)}}},
    "/job/{job_id}": {
        "parameters": [JOB_ID],
        "get": {"summary": "One job", "responses": {"200": _json(_ref("Job"), "the job"),
                                                    **_errors(401, 404, 503)}},
        "delete": {"summary": "Clean the job up (owner or admin); `Prefer: respond-async` answers 202 at once",
                   "parameters": [{"name": "Prefer", "in": "header", "required": False, "schema": STR}],
                   "responses": {
            "200": _json(_ref("Deleted"), "deleted"), "202": _json(_ref("Deleted"), "cleanup queued"),
            **_errors(401, 403, 404, 502, 503)}},
    },
    "/job/{job_id}/events": {"parameters": [JOB_ID], "get": {"summary": "Lifecycle events (history)",
        "responses": {"200": _json({"type": "object", "required": ["job_id", "events"], "properties": {
            "job_id": STR, "events": {"type": "array", "items": {"type": "object"}}}}, "events"),
            **_errors(401, 404, 503)}}},
    "/metadata/{job_id}": {"parameters": [JOB_ID], "get": {"summary": "Stream metadata of a job",
        "responses": {"200": _json({"allOf": [_ref("ViewFields"), {"type": "object"}]}, "metadata"),
                      **_errors(401, 404, 503)}}},
    "/channels": {"get": {"summary": "Channel range of the live fibre", "responses": {
        "200": _json({"type": "object", "required": ["lowest_channel", "highest_channel"], "properties": {
            "lowest_channel": INT, "highest_channel": INT, "number_of_channels": INT}}, "channels"),
        **_errors(401)}}},
    "/live_metadata": {"get": {"summary": "The live fibre's acquisition metadata", "responses": {
        "200": _json(_ref("LiveMetadata"), "metadata"), **_errors(401)}}},
    "/recordings_in_time_range": {"post": {
        "summary": "Recorded spans inside a time range, as [[start, end], ...]",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TimeRange")}}},
        "responses": {"200": _json({"type": "array", "items": {"type": "array", "items": NUM,
                                                                "minItems": 2, "maxItems": 2}}, "spans"),
                      **_errors(401, 422)}}},
    "/webhooks/{name}": {"post": {
        "summary": "Run an allow-listed playbook; body signed with X-Spectrojobs-Signature (HMAC-SHA256)",
        "security": [],
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": STR},
                       {"name": "X-Spectrojobs-Signature", "in": "header", "required": False, "schema": STR}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"202": _json({"type": "object", "required": ["run_id"], "properties": {
            "webhook": STR, "playbook": STR, "run_id": STR, "status": STR}}, "run queued"),
            **_errors(401, 404, 422, 503)}}},
    "/ack": {"get": {"summary": "Acknowledge", "security": [], "responses": {
        "200": _json({"type": "object", "properties": {"ack": {"type": "boolean"}}}, "ack")}}},
    "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {
        "200": _json({"type": "object", "properties": {"status": STR}}, "alive")}}},
    "/readyz": {"get": {"summary": "Readiness (cache synced, runner up)", "security": [], "responses": {
        "200": _json({"type": "object"}, "ready"), "503": _json({"type": "object"}, "not ready")}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {
        "200": {"description": "text exposition format", "content": {"text/plain": {"schema": STR}}}}}},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "spectrojobs trigger API", "version": "0.1.0",
             "description": "Focus-compatible job API running spectrogram streaming jobs on Kubernetes"},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)
