//! The JSON Schemas of tool inputs and results made portable: what schemars
//! writes, minus what some clients cannot read or warn about.

/// Removes what schemars adds beyond standard JSON Schema — numeric
/// `format`s such as `uint32` or `double` — which validating clients (AJV in the MCP
/// Inspector, among others) warn about. Bounds are given by `minimum`/`maximum`.
fn portable_schema(schema: &mut schemars::Schema) {
    if let Some(object) = schema.as_object_mut() {
        let numeric_format = object
            .get("format")
            .and_then(|f| f.as_str())
            .is_some_and(|f| {
                f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
            });
        if numeric_format {
            object.remove("format");
        }
        for value in object.values_mut() {
            match value {
                serde_json::Value::Object(_) => {
                    if let Ok(sub) = <&mut schemars::Schema>::try_from(value) {
                        portable_schema(sub);
                    }
                }
                serde_json::Value::Array(items) => {
                    for item in items.iter_mut() {
                        if let Ok(sub) = <&mut schemars::Schema>::try_from(item) {
                            portable_schema(sub);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// [`portable_schema`] for tool inputs, where an optional field is simply
/// left out: `"type": ["integer", "null"]` becomes `"type": "integer"`. Some
/// clients (Gemini's function declarations among them) cannot express a
/// union type; the server still accepts an explicit `null` for such a field.
pub(crate) fn input_schema(schema: &mut schemars::Schema) {
    portable_schema(schema);
    strip_null_types(schema);
}

/// [`portable_schema`] for tool results, where a field may really be `null`:
/// `"type": ["string", "null"]` becomes `"anyOf": [{"type": "string"},
/// {"type": "null"}]`, the form validators recommend for portability.
pub(crate) fn output_schema(schema: &mut schemars::Schema) {
    portable_schema(schema);
    nullable_as_any_of(schema);
}

fn nullable_as_any_of(schema: &mut schemars::Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let nullable = match object.get("type") {
        Some(serde_json::Value::Array(types))
            if types.len() == 2 && types.iter().any(|t| t == "null") =>
        {
            types.iter().find(|t| *t != "null").cloned()
        }
        _ => None,
    };
    if let Some(kind) = nullable {
        object.remove("type");
        object.insert(
            "anyOf".into(),
            serde_json::json!([{ "type": kind }, { "type": "null" }]),
        );
    }
    for key in ["properties", "$defs"] {
        if let Some(serde_json::Value::Object(children)) = object.get_mut(key) {
            for value in children.values_mut() {
                if let Ok(sub) = <&mut schemars::Schema>::try_from(value) {
                    nullable_as_any_of(sub);
                }
            }
        }
    }
    if let Some(items) = object.get_mut("items")
        && let Ok(sub) = <&mut schemars::Schema>::try_from(items)
    {
        nullable_as_any_of(sub);
    }
}

fn strip_null_types(schema: &mut schemars::Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    if let Some(serde_json::Value::Object(properties)) = object.get_mut("properties") {
        for value in properties.values_mut() {
            if let Ok(sub) = <&mut schemars::Schema>::try_from(value) {
                strip_null_types(sub);
            }
        }
    }
}
