//! Metrics in CloudWatch's Embedded Metric Format: one JSON object per line on standard output,
//! which Lambda's log agent turns into CloudWatch metrics with no API call. Dimensions are small
//! and bounded (the function, a standing, an outcome, a class), never a resource's name.

use serde_json::{json, Map, Value};

/// The namespace of every metric.
pub const NAMESPACE: &str = "CredentialRotation";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Days,
    Milliseconds,
}

impl Unit {
    /// CloudWatch has no unit for days: they are published as plain numbers.
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Days => "None",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric line: the values of some metrics under one set of dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    pub dimensions: Vec<(&'static str, String)>,
    pub metrics: Vec<(&'static str, f64, Unit)>,
}

impl MetricLine {
    pub fn new(dimensions: Vec<(&'static str, String)>) -> Self {
        Self {
            dimensions,
            metrics: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: f64, unit: Unit) -> Self {
        self.metrics.push((name, value, unit));
        self
    }
}

/// One line per entry of `counts`: `metric` = the count, under the function and `dimension` =
/// the entry's name (certificates per standing, users per outcome, keys per class).
pub fn counts_by<'a>(
    function: &str,
    dimension: &'static str,
    metric: &'static str,
    counts: impl IntoIterator<Item = (&'a &'static str, &'a usize)>,
) -> Vec<MetricLine> {
    counts
        .into_iter()
        .map(|(name, count)| {
            MetricLine::new(vec![
                ("function", function.to_owned()),
                (dimension, (*name).to_owned()),
            ])
            .with(metric, *count as f64, Unit::Count)
        })
        .collect()
}

/// The EMF document of a line, at `timestamp_ms` (milliseconds since the epoch).
pub fn emf(namespace: &str, line: &MetricLine, timestamp_ms: i64) -> Value {
    let dimension_names: Vec<&str> = line.dimensions.iter().map(|(name, _)| *name).collect();
    let definitions: Vec<Value> = line
        .metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimension_names],
                "Metrics": definitions,
            }]
        }),
    );
    for (name, value) in &line.dimensions {
        document.insert((*name).to_owned(), Value::String(value.clone()));
    }
    for (name, value, _) in &line.metrics {
        document.insert((*name).to_owned(), json!(value));
    }
    Value::Object(document)
}

/// Writes each line to standard output, whole (the log agent reads a metric per line), in
/// [`NAMESPACE`].
pub fn emit(lines: &[MetricLine], timestamp_ms: i64) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A metric that cannot be written is not worth failing the scan for.
        let _ = writeln!(out, "{}", emf(NAMESPACE, line, timestamp_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document_with_its_dimensions_and_values_at_the_top_level() {
        let line = MetricLine::new(vec![
            ("function", "acm-certificate-expiry".into()),
            ("standing", "expiring".into()),
        ])
        .with("Certificates", 3.0, Unit::Count);
        let document = emf("CredentialRotation", &line, 1_800_000_000_000);
        assert_eq!(
            document,
            json!({
                "_aws": {
                    "Timestamp": 1_800_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "CredentialRotation",
                        "Dimensions": [["function", "standing"]],
                        "Metrics": [{"Name": "Certificates", "Unit": "Count"}]
                    }]
                },
                "function": "acm-certificate-expiry",
                "standing": "expiring",
                "Certificates": 3.0
            })
        );
        let days = MetricLine::new(vec![("function", "f".into())]).with(
            "FewestDaysLeft",
            12.0,
            Unit::Days,
        );
        assert_eq!(
            emf("N", &days, 0)["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "None"
        );
    }
}
