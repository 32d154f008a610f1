//! TOML through `toml_edit`, which keeps comments, order and formatting of
//! everything it is not asked to change.

use serde_json::Value;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike};

use super::{Desired, MergeError, not_a_table};

fn parse(text: &str) -> Result<DocumentMut, MergeError> {
    text.parse::<DocumentMut>()
        .map_err(|e| MergeError::Syntax(e.to_string().trim().replace('\n', " ")))
}

pub(super) fn merge(text: &str, d: &Desired<'_>) -> Result<String, MergeError> {
    let mut doc = parse(text)?;
    let servers = doc.as_table_mut().entry(d.servers_key).or_insert_with(|| {
        // `[mcp_servers.bridge]` alone, without an empty `[mcp_servers]` header.
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let inline_parent = servers.is_inline_table();
    let servers = servers
        .as_table_like_mut()
        .ok_or_else(|| not_a_table(d.servers_key))?;
    let fresh = || -> Result<Item, MergeError> {
        let mut t = Table::new();
        for (k, v) in &d.fields {
            t.insert(k, Item::Value(value(v)?));
        }
        Ok(if inline_parent {
            Item::Value(toml_edit::Value::InlineTable(t.into_inline_table()))
        } else {
            Item::Table(t)
        })
    };
    match servers.get_mut(d.name) {
        None => {
            servers.insert(d.name, fresh()?);
        }
        Some(item) => match item.as_table_like_mut() {
            None => *item = fresh()?,
            Some(entry) => update(entry, d)?,
        },
    }
    Ok(doc.to_string())
}

/// Sets the owned keys of an existing entry, each only if its value differs.
fn update(entry: &mut dyn TableLike, d: &Desired<'_>) -> Result<(), MergeError> {
    for key in d.conflicting {
        entry.remove(key);
    }
    for (key, want) in &d.fields {
        let same = entry
            .get(key)
            .and_then(Item::as_value)
            .is_some_and(|have| to_json(have) == *want);
        if same {
            continue;
        }
        let new = value(want)?;
        match entry.get_mut(key) {
            // Replace the value in place, so the comments around it stay.
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = new;
                *old.decor_mut() = decor;
            }
            _ => {
                entry.insert(key, Item::Value(new));
            }
        }
    }
    Ok(())
}

pub(super) fn to_value(text: &str) -> Result<Value, MergeError> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| MergeError::Syntax(e.to_string().trim().replace('\n', " ")))?;
    serde_json::to_value(table).map_err(|e| MergeError::Syntax(e.to_string()))
}

fn value(v: &Value) -> Result<toml_edit::Value, MergeError> {
    Ok(match v {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => {
            let mut arr = Array::new();
            for item in a {
                arr.push(value(item)?);
            }
            toml_edit::Value::Array(arr)
        }
        Value::Object(o) => {
            let mut t = InlineTable::new();
            for (k, item) in o {
                t.insert(k, value(item)?);
            }
            toml_edit::Value::InlineTable(t)
        }
        Value::Null => return Err(MergeError::Shape("TOML has no null".into())),
    })
}

fn to_json(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml_edit::Value::InlineTable(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect())
        }
    }
}
