//! Reads what `/metrics` says with the `prometheus-parse` crate, refusing what it would skip.
//!
//! The crate passes over lines it cannot read (a bad value, a stray word), so every line is
//! first classified with its own line parser and one it would ignore is an error. On top of
//! the grammar: one `# HELP` and one `# TYPE` per family, the `# TYPE` before the samples, no
//! repeated series, and histogram buckets that rise to `+Inf` and agree with `_count`.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_parse::{LineInfo, Scrape, Value};

/// One sample: a counter, gauge or untyped value (a histogram's `_sum` and `_count` are
/// untyped to the crate), with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the sample `name` with exactly `labels`, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found = self
            .samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted);
        found.map(|s| s.value)
    }

    /// Every sample named `name`.
    pub fn samples(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Parses `text`, or says which line is wrong and why.
pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".to_owned());
    }
    let mut docs = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut series = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let at = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
        match LineInfo::parse(line) {
            LineInfo::Doc { metric_name, .. } if !docs.insert(metric_name.to_owned()) => {
                return Err(at("second HELP"));
            }
            LineInfo::Type { metric_name, .. } if !types.insert(metric_name.clone()) => {
                return Err(at("second TYPE"));
            }
            LineInfo::Sample {
                metric_name, value, ..
            } => {
                let family = metric_name
                    .strip_suffix("_sum")
                    .or_else(|| metric_name.strip_suffix("_count"))
                    .map(|base| format!("{base}_bucket"))
                    .filter(|bucket| types.contains(bucket));
                if !types.contains(metric_name) && family.is_none() {
                    return Err(at("sample before its family's TYPE"));
                }
                if value.parse::<f64>().is_err() && !["+Inf", "-Inf", "NaN"].contains(&value) {
                    return Err(at("bad value"));
                }
                if !series.insert(line.rsplit_once(' ').map_or(line, |(key, _)| key)) {
                    return Err(at("repeated series"));
                }
            }
            LineInfo::Empty => return Err(at("empty line")),
            LineInfo::Ignored if !line.starts_with('#') => return Err(at("not a sample")),
            _ => {}
        }
    }
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = Scrape::parse(lines).map_err(|err| err.to_string())?;
    let mut out = Exposition::default();
    let mut histograms = Vec::new();
    for s in scrape.samples {
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let value = match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            Value::Histogram(buckets) => {
                let buckets: Vec<(f64, f64)> =
                    buckets.iter().map(|b| (b.less_than, b.count)).collect();
                histograms.push((s.metric, labels, buckets));
                continue;
            }
            Value::Summary(_) => return Err(format!("{}: unexpected summary", s.metric)),
        };
        out.samples.push(Sample {
            name: s.metric,
            labels,
            value,
        });
    }
    for (name, labels, buckets) in histograms {
        let rising = buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        let top = buckets.last().filter(|b| b.0 == f64::INFINITY).map(|b| b.1);
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, &**v)).collect();
        let count = out.value(&format!("{name}_count"), &pairs);
        let sum = out.value(&format!("{name}_sum"), &pairs);
        if !rising || top.is_none() || top != count || sum.is_none() {
            return Err(format!(
                "{name} {labels:?}: buckets, _count or _sum do not agree"
            ));
        }
    }
    Ok(out)
}
