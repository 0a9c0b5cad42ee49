//! The OpenAPI 3.1 document of the collector's endpoints, served at `/openapi.json`.

use serde_json::{Value, json};

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn refusal(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Refusal" } } }
    })
}

fn refusals() -> Value {
    json!({
        "400": refusal("Malformed JSON, not an object, empty, or nested too deeply"),
        "413": refusal("Body larger than the limit (10 MB by default)"),
        "415": refusal("Content-Type is not application/json"),
        "422": refusal("A required key is missing or a value has the wrong type"),
        "429": refusal("Too many requests for this instance uuid; see Retry-After"),
    })
}

/// The document.
pub fn document() -> Value {
    let mut usage_data_responses = refusals();
    usage_data_responses["201"] = json!({
        "description": "Ping stored",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } }
    });
    usage_data_responses["200"] = json!({
        "description": "The same ping (same uuid, recorded_at and bytes) was received before; nothing new was stored",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } }
    });
    usage_data_responses["409"] =
        refusal("A different payload with the same uuid and recorded_at was received before");
    let mut created = refusals();
    created["201"] = json!({ "description": "Stored" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Service Ping collector",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Receives Service Ping payloads from instances, as GitLab's Versions application does."
        },
        "paths": {
            "/usage_data": { "post": {
                "summary": "Submit a Service Ping payload",
                "requestBody": json_body(json!({ "$ref": "#/components/schemas/Payload" })),
                "responses": usage_data_responses,
            }},
            "/usage_ping_metadata": { "post": {
                "summary": "Report per-metric timings and errors of a sent payload",
                "requestBody": json_body(json!({
                    "type": "object", "required": ["metadata"],
                    "properties": { "metadata": {
                        "type": "object", "required": ["uuid", "metrics"],
                        "properties": {
                            "uuid": { "type": "string" },
                            "metrics": { "type": "array", "items": {
                                "type": "object", "required": ["name", "time_elapsed"],
                                "properties": {
                                    "name": { "type": "string" },
                                    "time_elapsed": { "type": "number" },
                                    "error": { "type": "string" }
                                }
                            }}
                        }
                    }}
                })),
                "responses": created.clone(),
            }},
            "/usage_ping_errors": { "post": {
                "summary": "Report that an instance could not send its payload",
                "requestBody": json_body(json!({
                    "type": "object", "required": ["error"],
                    "properties": { "error": {
                        "type": "object", "required": ["uuid", "message"],
                        "properties": {
                            "uuid": { "type": "string" }, "hostname": { "type": "string" },
                            "version": { "type": "string" }, "message": { "type": "string" },
                            "elapsed": { "type": "number" }, "time": { "type": "string" }
                        }
                    }}
                })),
                "responses": created,
            }},
            "/usage_data/new": {
                "get": { "summary": "Upload page for payloads from offline instances", "responses": { "200": { "description": "HTML form" } } },
                "post": { "summary": "Upload a payload file (multipart field `payload`)", "responses": { "201": { "description": "HTML result page" }, "400": { "description": "HTML page with the reason" } } }
            }
        },
        "components": { "schemas": {
            "Payload": {
                "type": "object", "required": ["uuid", "recorded_at", "version"],
                "properties": {
                    "uuid": { "type": "string", "maxLength": 64 },
                    "recorded_at": { "type": "string", "format": "date-time" },
                    "version": { "type": "string" },
                    "hostname": { "type": ["string", "null"] },
                    "edition": { "type": ["string", "null"] },
                    "counts": { "type": "object" }
                }
            },
            "Accepted": {
                "type": "object", "required": ["conv_index"],
                "properties": {
                    "conv_index": {
                        "type": "object", "required": ["usage_data_id"],
                        "properties": { "usage_data_id": { "type": "integer", "minimum": 1 } }
                    },
                    "sha256": {
                        "description": "Hex SHA-256 of the bytes stored for this ping (of the body, byte for byte): the instance compares it with the payload it showed. GitLab's collector does not send it.",
                        "type": "string", "pattern": "^[0-9a-f]{64}$"
                    },
                    "cohort": {
                        "description": "Where the instance stands among organizations of its size (absent when collector.cohorts is off). Groups of fewer than collector.min_cohort_size instances are never reported: `fallback` says which wider group was used instead, and `comparison` is absent when none is large enough.",
                        "type": "object",
                        "properties": {
                            "cohort": { "type": ["object", "null"], "properties": {
                                "size": { "type": "string" }, "label": { "type": "string" }, "edition": { "type": "string" }
                            }},
                            "fallback": { "type": ["string", "null"] },
                            "comparison": { "type": ["object", "null"], "properties": {
                                "group": { "type": "object", "properties": {
                                    "kind": { "enum": ["cohort", "size", "fleet"] },
                                    "label": { "type": "string" },
                                    "instances": { "type": "integer" }
                                }},
                                "overall": { "$ref": "#/components/schemas/Standing" },
                                "features": { "type": "array", "items": { "allOf": [
                                    { "$ref": "#/components/schemas/Standing" },
                                    { "type": "object", "properties": { "key": { "type": "string" } } }
                                ]}}
                            }}
                        }
                    }
                }
            },
            "Standing": {
                "type": "object", "required": ["percentile", "median", "p75", "p90"],
                "properties": {
                    "percentile": { "type": "number", "description": "The share of the group at or below this instance, 0 to 100." },
                    "median": { "type": "number" }, "p75": { "type": "number" }, "p90": { "type": "number" }
                }
            },
            "Refusal": {
                "type": "object", "required": ["reason"],
                "properties": { "reason": { "type": "string" } }
            }
        }}
    })
}
