//! Counter samples out of the Prometheus text exposition of one `/metrics` scrape.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use prometheus_parse::{Scrape, Value};

/// One counter value as scraped: a counter, a histogram bucket (`le` set)
/// or a histogram's `_count`. Labels are sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterSample {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub le: Option<f64>,
    pub value: f64,
}

impl CounterSample {
    pub fn new(
        metric: &str,
        mut labels: Vec<(String, String)>,
        le: Option<f64>,
        value: f64,
    ) -> Self {
        labels.sort();
        Self {
            metric: metric.to_owned(),
            labels,
            le,
            value,
        }
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(label, _)| label.as_str().cmp(name))
            .ok()
            .and_then(|index| self.labels.get(index))
            .map(|(_, value)| value.as_str())
    }
}

/// Every counter-like sample of a scrape; gauges and summaries are skipped,
/// and so are lines the parser cannot read (it never fails on a whole text).
pub fn counter_samples(exposition: &str) -> Vec<CounterSample> {
    let lines = exposition
        .lines()
        .map(|line| Ok(protect_label_values(line).into_owned()));
    // Sample times come from the caller's scrape clock, not from the text.
    let Ok(scrape) = Scrape::parse_at(lines, DateTime::<Utc>::UNIX_EPOCH) else {
        return Vec::new();
    };
    let mut samples = Vec::with_capacity(scrape.samples.len());
    for sample in scrape.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(name, value)| (name.clone(), restore_label_value(value)))
            .collect();
        match sample.value {
            Value::Counter(value) | Value::Untyped(value) => {
                // An untyped histogram still names its bucket bound in `le`.
                let le = labels
                    .iter()
                    .position(|(name, _)| name == "le")
                    .map(|index| labels.remove(index).1)
                    .and_then(|bound| parse_bound(&bound));
                samples.push(CounterSample::new(&sample.metric, labels, le, value));
            }
            Value::Histogram(buckets) => {
                let metric = format!("{}_bucket", sample.metric);
                labels.sort();
                for bucket in buckets {
                    samples.push(CounterSample {
                        metric: metric.clone(),
                        labels: labels.clone(),
                        le: Some(bucket.less_than),
                        value: bucket.count,
                    });
                }
            }
            Value::Gauge(_) | Value::Summary(_) => {}
        }
    }
    samples
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

/// prometheus-parse reads a label block as `[^}]+` split on `,` and `=`, so
/// a route template such as `/tasks/{id}` would drop the whole line. Inside
/// quoted values, those characters (and `%`, and escape sequences) are
/// percent-encoded before parsing and restored after.
fn protect_label_values(line: &str) -> Cow<'_, str> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || !trimmed.contains('{') {
        return Cow::Borrowed(line);
    }
    let mut protected = String::with_capacity(line.len() + 16);
    let mut in_block = false;
    let mut in_value = false;
    let mut block_done = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if block_done {
            protected.push(c);
            continue;
        }
        if in_value {
            match c {
                '"' => {
                    in_value = false;
                    protected.push(c);
                }
                '\\' => match chars.next() {
                    Some('n') => protected.push_str("%0A"),
                    Some('\\') => protected.push_str("%5C"),
                    Some('"') => protected.push_str("%22"),
                    Some(other) => {
                        protected.push('\\');
                        protected.push(other);
                    }
                    None => protected.push('\\'),
                },
                '%' => protected.push_str("%25"),
                '{' => protected.push_str("%7B"),
                '}' => protected.push_str("%7D"),
                ',' => protected.push_str("%2C"),
                '=' => protected.push_str("%3D"),
                c => protected.push(c),
            }
            continue;
        }
        match c {
            '{' if !in_block => in_block = true,
            '}' if in_block => block_done = true,
            '"' if in_block => in_value = true,
            _ => {}
        }
        protected.push(c);
    }
    Cow::Owned(protected)
}

fn restore_label_value(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    let mut restored = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(index) = rest.find('%') {
        restored.push_str(&rest[..index]);
        let code = rest.get(index + 1..index + 3);
        let decoded = match code {
            Some("0A") => Some('\n'),
            Some("5C") => Some('\\'),
            Some("22") => Some('"'),
            Some("25") => Some('%'),
            Some("7B") => Some('{'),
            Some("7D") => Some('}'),
            Some("2C") => Some(','),
            Some("3D") => Some('='),
            _ => None,
        };
        match decoded {
            Some(c) => {
                restored.push(c);
                rest = &rest[index + 3..];
            }
            None => {
                restored.push('%');
                rest = &rest[index + 1..];
            }
        }
    }
    restored.push_str(rest);
    restored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_with_braces_commas_and_escapes_survive_the_parser() {
        let text = concat!(
            "# TYPE http_requests_total counter\n",
            "http_requests_total{route=\"/tasks/{id}\",note=\"a,b=c 100%\",quote=\"say \\\"hi\\\"\"} 3\n",
        );
        let samples = counter_samples(text);
        assert_eq!(samples.len(), 1, "{samples:?}");
        let sample = &samples[0];
        assert_eq!(sample.label("route"), Some("/tasks/{id}"));
        assert_eq!(sample.label("note"), Some("a,b=c 100%"));
        assert_eq!(sample.label("quote"), Some("say \"hi\""));
        assert_eq!(sample.value, 3.0);
    }

    #[test]
    fn gauges_are_skipped_and_untyped_buckets_keep_their_bound() {
        let text = concat!(
            "# TYPE opsbox_db_pool_connections gauge\n",
            "opsbox_db_pool_connections{state=\"idle\"} 4\n",
            "queue_wait_bucket{le=\"+Inf\"} 9\n",
        );
        let samples = counter_samples(text);
        assert_eq!(samples.len(), 1, "{samples:?}");
        assert_eq!(samples[0].le, Some(f64::INFINITY));
        assert!(samples[0].labels.is_empty());
    }
}
