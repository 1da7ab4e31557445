//! The OpenAPI 3.1 document of the JSON routes, generated from the compiled protos (never
//! written by hand): a path per [`super::rest::ROUTES`] entry, whose request and answer are the
//! gRPC method's messages, and a component schema per message and enum they reach, in the proto3
//! JSON mapping (lowerCamelCase names, 64-bit integers as strings, enums by name, bytes as
//! base64, Timestamps as RFC 3339). Descriptions are the protos' own comments (the descriptor
//! set carries its source info). Only the error body, a google.rpc.Status, is described here by
//! hand: its protos are not among TICA's.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{
    EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};
use serde_json::{Map, Value, json};

use super::rest::{OPENAPI_PATH, ROUTES, RouteMethod, method};
use tica_server::http_errors::CODE_NAMES;

/// The component the error body refers to.
const ERROR_SCHEMA: &str = "google.rpc.Status";

/// The document.
pub fn document() -> Value {
    let mut schemas = Schemas::default();
    let mut paths = Map::new();
    for route in ROUTES {
        let descriptor = method(route.rpc);
        let operation = operation(route.method, &descriptor, &mut schemas);
        paths
            .entry(route.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(route.method.name().into(), operation);
    }
    paths.insert(
        OPENAPI_PATH.into(),
        json!({"get": {
            "operationId": "GetOpenApiDocument",
            "summary": "This document.",
            "tags": ["meta"],
            "responses": {"200": {
                "description": "The OpenAPI 3.1 document of these routes.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }},
        }}),
    );
    let mut components = schemas.finish();
    components.insert(ERROR_SCHEMA.into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "TICA certificate verification (JSON)",
            "version": "v1",
            "summary": "Verify TICA certificates, read the signing keys and the transparency log's checkpoint over plain JSON.",
            "description": "The public methods of tica.certificate.v1.CertificateService as JSON over HTTP: each route runs the gRPC method of the same name with the same rules. Requests and answers use the canonical proto3 JSON mapping; fields at their default value are left out of answers. No token: every route is anonymous and rate-limited per client. Errors are a google.rpc.Status under `error`, with the HTTP status Google's APIs give its code.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "verification", "description": "Verify certificates."},
            {"name": "transparency", "description": "Signing keys and the issuance log."},
            {"name": "meta", "description": "This document."},
        ],
        "paths": paths,
        "components": {"schemas": components},
    })
}

fn operation(how: RouteMethod, m: &MethodDescriptor, schemas: &mut Schemas) -> Value {
    let input = m.input();
    let output = m.output();
    let tag = if m.name().contains("Verify") {
        "verification"
    } else {
        "transparency"
    };
    let mut op = json!({
        "operationId": m.name(),
        "summary": first_sentence(&comment(&m.parent_file(), m.path())),
        "description": format!(
            "{}\n\ngRPC: `{}`.",
            comment(&m.parent_file(), m.path()),
            m.full_name()
        ),
        "tags": [tag],
        "responses": {
            "200": {
                "description": format!("The {}.", output.name()),
                "content": {"application/json": {"schema": schemas.reference(&output)}},
            },
            "default": {
                "description": "A refusal: the gRPC status as a google.rpc.Status, with the HTTP status of its code (400 INVALID_ARGUMENT, 404 NOT_FOUND, 413 body too large, 415 not JSON, 429 RESOURCE_EXHAUSTED with Retry-After, 503 UNAVAILABLE, …).",
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}}},
            },
        },
    });
    let op_object = op.as_object_mut().expect("an operation is an object");
    match how {
        RouteMethod::Post => {
            op_object.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "description": format!("The {} in proto3 JSON; a field it does not have is refused.", input.name()),
                    "content": {"application/json": {"schema": schemas.reference(&input)}},
                }),
            );
        }
        RouteMethod::Get => {
            let parameters: Vec<Value> = input
                .fields()
                .filter(|f| !f.is_list() && !f.is_map() && !matches!(f.kind(), Kind::Message(_)))
                .map(|f| {
                    json!({
                        "name": f.json_name(),
                        "in": "query",
                        "required": false,
                        "description": comment(&f.parent_file(), f.path()),
                        "schema": schemas.field_type(&f),
                    })
                })
                .collect();
            if !parameters.is_empty() {
                op_object.insert("parameters".into(), Value::Array(parameters));
            }
        }
    }
    op
}

/// Component schemas, made as they are first referred to.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
    pending_messages: Vec<MessageDescriptor>,
    pending_enums: Vec<EnumDescriptor>,
    queued: BTreeSet<String>,
}

impl Schemas {
    /// A `$ref` to `message`'s schema (or the JSON form of a well-known type).
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(wkt) = well_known(message) {
            return wkt;
        }
        if self.queued.insert(message.full_name().to_owned()) {
            self.pending_messages.push(message.clone());
        }
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    fn enum_reference(&mut self, e: &EnumDescriptor) -> Value {
        if self.queued.insert(e.full_name().to_owned()) {
            self.pending_enums.push(e.clone());
        }
        json!({"$ref": format!("#/components/schemas/{}", e.full_name())})
    }

    /// The schema of one value of `field` (repeated and maps aside).
    fn value_type(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double | Kind::Float => json!({
                "oneOf": [
                    {"type": "number"},
                    {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
                ],
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
                "type": "string",
                "format": "int64",
                "pattern": "^-?[0-9]+$",
                "description": "A 64-bit integer, written as a decimal string (a number is accepted in requests).",
            }),
            Kind::Uint64 | Kind::Fixed64 => json!({
                "type": "string",
                "format": "uint64",
                "pattern": "^[0-9]+$",
                "description": "An unsigned 64-bit integer, written as a decimal string (a number is accepted in requests).",
            }),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({
                "type": "string",
                "contentEncoding": "base64",
                "description": "Bytes in base64 (standard or URL-safe alphabet, padded or not, in requests).",
            }),
            Kind::Message(m) => self.reference(m),
            Kind::Enum(e) => self.enum_reference(e),
        }
    }

    /// The schema of `field`, as a property or a query parameter.
    fn field_type(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            let value = entry.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": self.field_type(&value)});
        }
        let value = self.value_type(&field.kind());
        if field.is_list() {
            json!({"type": "array", "items": value})
        } else {
            value
        }
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Value {
        let mut properties = Map::new();
        for field in message.fields() {
            let mut schema = self.field_type(&field);
            let description = comment(&field.parent_file(), field.path());
            if !description.is_empty() {
                schema = with_description(schema, &description);
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut schema = json!({
            "type": "object",
            "description": comment(&message.parent_file(), message.path()),
            "properties": properties,
        });
        // A oneof's fields are properties like any other; at most one of them may be set.
        let mut exclusive = Vec::new();
        for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
            let names: Vec<String> = oneof.fields().map(|f| f.json_name().to_owned()).collect();
            for (i, a) in names.iter().enumerate() {
                for b in &names[i + 1..] {
                    exclusive.push(json!({"required": [a, b]}));
                }
            }
        }
        if !exclusive.is_empty() {
            schema
                .as_object_mut()
                .expect("an object")
                .insert("not".into(), json!({"anyOf": exclusive}));
        }
        schema
    }

    fn enum_schema(e: &EnumDescriptor) -> Value {
        let mut description = comment(&e.parent_file(), e.path());
        for value in e.values() {
            let text = comment(&value.parent_file(), value.path());
            description.push_str(&format!(
                "\n- `{}`: {}",
                value.name(),
                text.replace('\n', " ")
            ));
        }
        let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
        json!({"type": "string", "enum": names, "description": description.trim()})
    }

    /// Every schema referred to, and every one those refer to.
    fn finish(mut self) -> Map<String, Value> {
        loop {
            if let Some(message) = self.pending_messages.pop() {
                let schema = self.message_schema(&message);
                self.done.insert(message.full_name().to_owned(), schema);
            } else if let Some(e) = self.pending_enums.pop() {
                self.done
                    .insert(e.full_name().to_owned(), Schemas::enum_schema(&e));
            } else {
                break;
            }
        }
        self.done.into_iter().collect()
    }
}

/// A schema with `description` beside it (a `$ref` keeps its siblings in OpenAPI 3.1).
fn with_description(mut schema: Value, description: &str) -> Value {
    let object = schema.as_object_mut().expect("a schema is an object");
    let text = match object.get("description").and_then(Value::as_str) {
        Some(own) => format!("{description}\n\n{own}"),
        None => description.to_owned(),
    };
    object.insert("description".into(), Value::String(text));
    schema
}

/// The JSON form of the well-known types the mapping writes specially.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Empty" => json!({"type": "object", "additionalProperties": false}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Any" => json!({"type": "object", "required": ["@type"]}),
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            // Wrappers: their value, or null.
            let field = message.get_field(1)?;
            let mut schemas = Schemas::default();
            json!({"anyOf": [schemas.value_type(&field.kind()), {"type": "null"}]})
        }
        _ => return None,
    })
}

/// The comment before the element at `path` in `file`, its lines joined as written.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.as_deref())
        .map(|text| {
            text.lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn first_sentence(text: &str) -> String {
    let flat = text.replace('\n', " ");
    match flat.find(". ") {
        Some(end) => flat[..=end].to_owned(),
        None => flat,
    }
}

/// The error body: google.rpc.Status under `error`, as Google's REST APIs write it.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "A refusal, as Google's REST APIs return one (https://cloud.google.com/apis/design/errors).",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "status", "message"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status."},
                    "status": {"type": "string", "enum": CODE_NAMES, "description": "The google.rpc.Code."},
                    "message": {"type": "string", "description": "For developers, in English (a LocalizedMessage in `details` explains it in the caller's language)."},
                    "details": {
                        "type": "array",
                        "description": "google.rpc error details in proto3 JSON: always an ErrorInfo (`reason` from tica.common.v1.ErrorReason, `domain` \"tica\") and a LocalizedMessage; a BadRequest naming the fields of an INVALID_ARGUMENT; a RetryInfo when a retry may succeed later.",
                        "items": {
                            "type": "object",
                            "required": ["@type"],
                            "properties": {"@type": {"type": "string"}},
                        },
                    },
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_the_verify_request_from_its_proto_comments() {
        let doc = document();
        let schema = &doc["components"]["schemas"]["tica.certificate.v1.VerifyRequest"];
        assert_eq!(schema["properties"]["qrText"]["type"], "string");
        assert_eq!(schema["properties"]["pdf"]["contentEncoding"], "base64");
        assert!(
            schema["properties"]["certificate"]["description"]
                .as_str()
                .unwrap()
                .contains("certificates/{certificate_id}"),
            "{schema}"
        );
        let response = &doc["components"]["schemas"]["tica.certificate.v1.VerifyResponse"];
        assert_eq!(response["properties"]["logIndex"]["type"], "string");
        assert_eq!(
            response["properties"]["verdict"]["$ref"],
            "#/components/schemas/tica.certificate.v1.Verdict"
        );
        let verdict = &doc["components"]["schemas"]["tica.certificate.v1.Verdict"];
        assert!(
            verdict["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("VERDICT_VALID"))
        );
    }
}
