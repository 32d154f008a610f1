//! JSON (and JSON with comments) through a concrete syntax tree, so that
//! everything outside the entry keeps its bytes.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde_json::Value;

use super::{Desired, MergeError, not_a_table};

/// What the clients' own parsers accept: strict JSON, plus comments where
/// the client strips them first (Gemini CLI).
fn options(comments: bool) -> ParseOptions {
    ParseOptions {
        allow_comments: comments,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn parse(text: &str, comments: bool) -> Result<CstRootNode, MergeError> {
    // The syntax tree keeps comments as tokens and then accepts them whatever
    // the options say, so strict files are checked by a strict parser first.
    if !comments && !text.trim().is_empty() {
        serde_json::from_str::<Value>(text).map_err(|e| MergeError::Syntax(e.to_string()))?;
    }
    CstRootNode::parse(text, &options(comments)).map_err(|e| MergeError::Syntax(e.to_string()))
}

/// The top-level object, created in an empty file.
fn root_object(root: &CstRootNode) -> Result<CstObject, MergeError> {
    match root.value() {
        None => Ok(root.object_value_or_set()),
        Some(v) => v
            .as_object()
            .ok_or_else(|| MergeError::Shape("the top level is not a JSON object".into())),
    }
}

/// Refuses a file that names a key twice in one object, anywhere in it: the
/// clients' parsers keep the last, this tree edits the first, so a
/// repository's `.mcp.json` could have `setup` rewrite an entry the client
/// never reads while a second `bridge` runs another command (red team).
/// Walked with a stack of its own: nesting depth is the file's to choose.
fn refuse_duplicate_keys(top: &CstObject) -> Result<(), MergeError> {
    use jsonc_parser::cst::CstNode;
    let mut pending: Vec<CstNode> = vec![top.clone().into()];
    while let Some(node) = pending.pop() {
        if let Some(object) = node.as_object() {
            let mut seen = std::collections::HashSet::new();
            for prop in object.properties() {
                if let Some(name) = prop.decoded_name()
                    && !seen.insert(name.clone())
                {
                    let shown = crate::display::visible(&name, crate::display::Lines::One);
                    return Err(MergeError::Shape(format!(
                        "it names `{shown}` twice in one object; the client reads the last one and setup would change the first: remove one of them"
                    )));
                }
                pending.extend(prop.value());
            }
        } else if let Some(array) = node.as_array() {
            pending.extend(array.elements());
        }
    }
    Ok(())
}

pub(super) fn merge(text: &str, comments: bool, d: &Desired<'_>) -> Result<String, MergeError> {
    let root = parse(text, comments)?;
    let top = root_object(&root)?;
    refuse_duplicate_keys(&top)?;
    let servers = match top.get(d.servers_key) {
        None => top
            .append(d.servers_key, CstInputValue::Object(Vec::new()))
            .object_value()
            .ok_or_else(|| not_a_table(d.servers_key))?,
        Some(prop) => prop
            .object_value()
            .ok_or_else(|| not_a_table(d.servers_key))?,
    };
    let fresh = || {
        CstInputValue::Object(
            d.fields
                .iter()
                .map(|(k, v)| (k.to_string(), input(v)))
                .collect(),
        )
    };
    match servers.get(d.name) {
        None => {
            servers.append(d.name, fresh());
        }
        Some(prop) => match prop.object_value() {
            None => prop.set_value(fresh()),
            Some(entry) => {
                for key in d.conflicting {
                    if let Some(p) = entry.get(key) {
                        p.remove();
                    }
                }
                for (key, want) in &d.fields {
                    match entry.get(key) {
                        Some(p)
                            if p.value().and_then(|v| v.to_serde_value()).as_ref()
                                == Some(want) => {}
                        Some(p) => p.set_value(input(want)),
                        None => {
                            entry.append(key, input(want));
                        }
                    }
                }
            }
        },
    }
    let mut out = root.to_string();
    // A new file ends with a newline, as editors write them.
    if text.trim().is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

pub(super) fn to_value(text: &str, comments: bool) -> Result<Value, MergeError> {
    let root = parse(text, comments)?;
    Ok(root
        .value()
        .and_then(|v| v.to_serde_value())
        .unwrap_or(Value::Object(serde_json::Map::new())))
}

fn input(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(input).collect()),
        Value::Object(o) => {
            CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}
