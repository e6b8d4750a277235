//! Checks answers against the OpenAPI document ghpulse serves.

#![allow(dead_code)]

use serde_json::Value;

/// A small validator for the OpenAPI 3.1 schemas utoipa writes: `$ref`, `type` (one or a
/// list), `properties`, `required`, `items`, `additionalProperties`, `oneOf`/`anyOf`/`allOf`,
/// `format: date-time`, `minimum`/`maximum`.
pub fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(doc, &doc["components"]["schemas"][name], v, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array)
            && !alts.iter().any(|s| validate(doc, s, v, at).is_ok())
        {
            return Err(format!("{at}: {v} matches none of {key}"));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        // Every part must hold, and a property is known when any part names it (serde's
        // `flatten` is written as the parts it joins): validate one object schema that
        // joins their properties and requirements.
        let mut joined = serde_json::Map::new();
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for part in all {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")]
                }
                None => part,
            };
            if let Some(ps) = part.get("properties").and_then(Value::as_object) {
                properties.extend(ps.clone());
            }
            if let Some(rs) = part.get("required").and_then(Value::as_array) {
                required.extend(rs.iter().cloned());
            }
            if part.get("properties").is_none() {
                validate(doc, part, v, at)?;
            }
        }
        joined.insert("type".into(), "object".into());
        joined.insert("properties".into(), Value::Object(properties));
        joined.insert("required".into(), Value::Array(required));
        validate(doc, &Value::Object(joined), v, at)?;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let (Some("date-time"), Some(s)) = (schema.get("format").and_then(Value::as_str), v.as_str())
    {
        chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("{at}: {s:?} is not a date-time: {e}"))?;
        if !s.ends_with('Z') {
            return Err(format!("{at}: {s:?} is not UTC with a Z"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        return Err(format!("{at}: {n} < minimum {min}"));
    }
    if let Some(obj) = v.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = req.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                return Err(format!("{at}: missing required {name}"));
            }
        }
        for (k, val) in obj {
            if let Some(ps) = schema.get("properties").and_then(|p| p.get(k)) {
                validate(doc, ps, val, &format!("{at}.{k}"))?;
            } else if let Some(extra) = schema.get("additionalProperties").filter(|e| e.is_object())
            {
                validate(doc, extra, val, &format!("{at}.{k}"))?;
            } else if schema.get("properties").is_some() {
                return Err(format!("{at}: property {k} is not in the schema"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The documented response for a concrete request, if the document has one.
pub fn documented<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> Option<&'a Value> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let (_, item) = doc["paths"].as_object()?.iter().find(|(template, _)| {
        let t: Vec<&str> = template.split('/').collect();
        t.len() == segments.len()
            && t.iter()
                .zip(&segments)
                .all(|(a, b)| a.starts_with('{') || a == b)
    })?;
    item.get(method)?.get("responses")?.get(status.to_string())
}

pub fn check_against_doc(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let resp = documented(doc, method, path, status)
        .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented"));
    if let Some(schema) = resp.pointer("/content/application~1json/schema") {
        validate(doc, schema, body, "body")
            .unwrap_or_else(|e| panic!("{method} {path} -> {status}: {e}\n{body}"));
    }
}
