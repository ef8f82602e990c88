//! What a command tells the operator: text for a person, JSON for scripts.

use serde_json::Value;

pub struct Outcome {
    /// Printed by default.
    pub human: String,
    /// Printed with --json, and as `result` with --print.
    pub json: Value,
}

/// A stored record, pretty-printed (or as stored, when it is not JSON).
pub fn record_outcome(raw: &str) -> Outcome {
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => Outcome { human: serde_json::to_string_pretty(&v).unwrap_or_else(|_| raw.to_string()), json: v },
        Err(_) => Outcome { human: raw.to_string(), json: Value::String(raw.to_string()) },
    }
}

/// Left-aligned columns under a header.
pub fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    all.extend(rows);
    let width = |i: usize| all.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0);
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    all.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
