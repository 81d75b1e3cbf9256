//! The observability configs under `observability/` hold together:
//!
//! - every PromQL expression of the Grafana dashboards (panel targets and
//!   template variable queries) parses, and names only metrics that the
//!   services export or that the generated rules record (or `ALERTS`);
//! - the dashboards use their `datasource` variable, and the SLO alerts'
//!   dashboard links point at a dashboard and variable that exist;
//! - the OpenTelemetry Collector pipeline references only defined components
//!   and its tail sampling keeps errors, slow traces and a baseline share;
//! - promtail parses the JSON logs and keeps `trace_id` out of Loki's labels,
//!   and Loki deletes old logs.
//!
//! No Grafana, collector or promtail runs here: Debian packages none of them, so
//! these are structural checks of the files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use promql_parser::parser::{self, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde_json::Value;
use serde_yaml::Value as Yaml;

/// Counters and gauges of `services/api/src/metrics.rs`, `services/worker/src/metrics.rs`
/// and `services/common` (`opsbox_build_info`).
const SERVICE_METRICS: &[&str] = &[
    "http_requests_total",
    "opsbox_tasks_created_total",
    "opsbox_jobs_enqueued_total",
    "opsbox_db_pool_connections",
    "opsbox_build_info",
    "opsbox_jobs_processed_total",
    "opsbox_jobs_dropped_total",
    "opsbox_queue_depth",
    "opsbox_worker_inflight",
];

/// Histograms of the same files: each is exported as `_bucket`, `_sum` and `_count`.
const SERVICE_HISTOGRAMS: &[&str] = &[
    "http_request_duration_seconds",
    "opsbox_job_duration_seconds",
    "opsbox_job_queue_wait_seconds",
];

/// Grafana's own interval variables; any duration makes the expression parse.
const GRAFANA_INTERVALS: &[&str] = &["__rate_interval", "__interval", "__range"];

const DASHBOARD_UIDS: &[&str] = &["opsbox-api", "opsbox-worker", "opsbox-slos"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("console/ has a parent")
        .to_path_buf()
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.{extension} files in {}",
        dir.display()
    );
    files
}

fn read_yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// A dashboard file and its JSON.
struct Dashboard {
    file: String,
    json: Value,
}

impl Dashboard {
    fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or_default()
    }

    fn variables(&self) -> &[Value] {
        self.json["templating"]["list"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn variable(&self, name: &str) -> Option<&Value> {
        self.variables().iter().find(|v| v["name"] == name)
    }

    /// Every panel, including those nested in rows, except the rows themselves.
    fn panels(&self) -> Vec<&Value> {
        fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
            for panel in panels.as_array().into_iter().flatten() {
                if panel["type"] != "row" {
                    out.push(panel);
                }
                walk(&panel["panels"], out);
            }
        }
        let mut out = Vec::new();
        walk(&self.json["panels"], &mut out);
        out
    }

    /// (where, PromQL) for every panel target and every query variable.
    fn expressions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for panel in self.panels() {
            let title = panel["title"].as_str().unwrap_or("?");
            for target in panel["targets"].as_array().into_iter().flatten() {
                let where_ = format!("{}: panel {title:?} target {}", self.file, target["refId"]);
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(!expr.trim().is_empty(), "{where_} has no expr");
                out.push((where_, expr.to_owned()));
            }
        }
        for variable in self.variables().iter().filter(|v| v["type"] == "query") {
            let where_ = format!("{}: variable {}", self.file, variable["name"]);
            // Grafana 10+ stores an object; older dashboards a plain string.
            let query = variable["query"]["query"]
                .as_str()
                .or(variable["query"].as_str())
                .unwrap_or_else(|| panic!("{where_} has no query"));
            out.push((where_.clone(), variable_selector(&where_, query)));
        }
        out
    }
}

fn dashboards() -> Vec<Dashboard> {
    let dir = repo_root().join("observability/grafana/dashboards");
    files_with_extension(&dir, "json")
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("dashboard file");
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
            Dashboard { file, json }
        })
        .collect()
}

/// The PromQL inside a Prometheus variable query: `label_values(<selector>, label)` or
/// `query_result(<expr>)`. Other forms (`label_values(label)` over every series,
/// `metrics()`) are refused: they would list metrics of other applications.
fn variable_selector(where_: &str, query: &str) -> String {
    let query = query.trim();
    if let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
    {
        let (selector, label) = inner
            .rsplit_once(',')
            .unwrap_or_else(|| panic!("{where_}: label_values without a selector: {query}"));
        assert!(
            !label.trim().is_empty(),
            "{where_}: label_values without a label"
        );
        return selector.trim().to_owned();
    }
    if let Some(inner) = query
        .strip_prefix("query_result(")
        .and_then(|q| q.strip_suffix(')'))
    {
        return inner.to_owned();
    }
    panic!("{where_}: unsupported variable query {query:?}")
}

/// Replaces Grafana variables (`$var`, `${var}`, `${var:format}`) by values that keep
/// the expression valid PromQL. A variable that is neither one of Grafana's interval
/// variables nor defined by the dashboard is an error.
fn substitute(expr: &str, defined: &BTreeSet<String>) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or("an unclosed ${")?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            return Err("a lone $".into());
        }
        if GRAFANA_INTERVALS.contains(&name) {
            out.push_str("5m");
        } else if defined.contains(name) {
            // Variables stand in label matcher values: any label value will do.
            out.push_str("value");
        } else {
            return Err(format!(
                "${name} is not a variable of the dashboard ({defined:?})"
            ));
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The metric names of every selector in the expression; a selector without a
/// metric name (`{job="x"}`) is reported as "" so that the caller rejects it.
fn metric_names(expr: &Expr) -> BTreeSet<String> {
    struct Names(BTreeSet<String>);
    impl ExprVisitor for Names {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            let selector = match expr {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &ms.vs,
                _ => return Ok(true),
            };
            let name = selector.name.clone().or_else(|| {
                selector
                    .matchers
                    .matchers
                    .iter()
                    .find(|m| m.name == "__name__")
                    .map(|m| m.value.clone())
            });
            self.0.insert(name.unwrap_or_default());
            Ok(true)
        }
    }
    let mut names = Names(BTreeSet::new());
    walk_expr(&mut names, expr).expect("infallible");
    names.0
}

/// Every `record:` name of the generated rule files.
fn recorded_metrics() -> BTreeSet<String> {
    let dir = repo_root().join("observability/prometheus/rules");
    let mut names = BTreeSet::new();
    for path in files_with_extension(&dir, "yaml") {
        let rules = read_yaml(&path);
        for group in rules["groups"].as_sequence().into_iter().flatten() {
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                if let Some(record) = rule["record"].as_str() {
                    names.insert(record.to_owned());
                }
            }
        }
    }
    assert!(!names.is_empty(), "no recording rules in {}", dir.display());
    names
}

fn known_metrics() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = SERVICE_METRICS.iter().map(|m| m.to_string()).collect();
    for histogram in SERVICE_HISTOGRAMS {
        for suffix in ["_bucket", "_sum", "_count"] {
            known.insert(format!("{histogram}{suffix}"));
        }
    }
    known.extend(recorded_metrics());
    known.insert("ALERTS".into());
    known
}

/// Checks one dashboard's expressions; returns the problems and how many were checked.
fn check_expressions(dashboard: &Dashboard, known: &BTreeSet<String>) -> (Vec<String>, usize) {
    let defined: BTreeSet<String> = dashboard
        .variables()
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    let expressions = dashboard.expressions();
    for (where_, expr) in &expressions {
        let promql = match substitute(expr, &defined) {
            Ok(promql) => promql,
            Err(error) => {
                problems.push(format!("{where_}: {error}\n  {expr}"));
                continue;
            }
        };
        match parser::parse(&promql) {
            Err(error) => problems.push(format!("{where_}: does not parse: {error}\n  {promql}")),
            Ok(ast) => {
                for name in metric_names(&ast) {
                    if !known.contains(&name) {
                        problems.push(format!(
                            "{where_}: metric {name:?} is neither exported by the services nor recorded by a rule\n  {promql}"
                        ));
                    }
                }
            }
        }
    }
    (problems, expressions.len())
}

#[test]
fn every_dashboard_expression_parses_and_names_known_metrics() {
    let known = known_metrics();
    let mut problems = Vec::new();
    let mut checked = 0;
    for dashboard in dashboards() {
        let (found, count) = check_expressions(&dashboard, &known);
        assert!(count > 0, "{} has no PromQL at all", dashboard.file);
        problems.extend(found);
        checked += count;
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        checked >= 30,
        "only {checked} expressions found: is the walk missing panels?"
    );
}

/// The checker itself rejects what it must: a typo'd metric, broken PromQL, an
/// undefined variable, a selector without a metric name.
#[test]
fn the_expression_check_rejects_bad_expressions() {
    let known = known_metrics();
    let board = |expr: &str| Dashboard {
        file: "test.json".into(),
        json: serde_json::json!({
            "templating": {"list": [{"name": "track", "type": "custom"}]},
            "panels": [{"type": "row", "panels": [
                {"type": "timeseries", "title": "t", "targets": [{"refId": "A", "expr": expr}]}
            ]}]
        }),
    };
    let good = r#"sum by (le) (rate(http_request_duration_seconds_bucket{track=~"$track"}[$__rate_interval]))"#;
    assert_eq!(check_expressions(&board(good), &known), (vec![], 1));
    let recorded = r#"slo:sli_error:ratio_rate1h{slo="api-latency",track=~"${track:regex}"} / on (slo) group_left slo:error_budget:ratio"#;
    assert_eq!(
        check_expressions(&board(recorded), &known).0,
        Vec::<String>::new()
    );

    let typo = r#"sum(rate(http_request_total{track=~"$track"}[5m]))"#;
    let (problems, _) = check_expressions(&board(typo), &known);
    assert!(
        problems.len() == 1 && problems[0].contains("\"http_request_total\""),
        "{problems:?}"
    );

    let histogram_without_suffix = "rate(http_request_duration_seconds[5m])";
    assert_eq!(
        check_expressions(&board(histogram_without_suffix), &known)
            .0
            .len(),
        1
    );

    let broken = "sum(rate(http_requests_total[5m])";
    let (problems, _) = check_expressions(&board(broken), &known);
    assert!(
        problems.len() == 1 && problems[0].contains("does not parse"),
        "{problems:?}"
    );

    let nameless = r#"sum(rate({track="stable"}[5m]))"#;
    assert_eq!(check_expressions(&board(nameless), &known).0.len(), 1);

    let undefined = r#"rate(http_requests_total{route="$route"}[5m])"#;
    let (problems, _) = check_expressions(&board(undefined), &known);
    assert!(
        problems.len() == 1 && problems[0].contains("$route is not a variable"),
        "{problems:?}"
    );
}

#[test]
fn dashboards_use_their_datasource_variable() {
    let dashboards = dashboards();
    let uids: BTreeSet<&str> = dashboards.iter().map(Dashboard::uid).collect();
    assert_eq!(
        uids.len(),
        dashboards.len(),
        "dashboard uids must be unique"
    );
    for uid in DASHBOARD_UIDS {
        assert!(
            uids.contains(uid),
            "no dashboard with uid {uid} (found {uids:?})"
        );
    }
    for dashboard in &dashboards {
        let file = &dashboard.file;
        assert!(
            dashboard.json["title"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{file}: no title"
        );
        let datasource = dashboard
            .variable("datasource")
            .unwrap_or_else(|| panic!("{file}: no `datasource` variable"));
        assert_eq!(datasource["type"], "datasource", "{file}");
        assert_eq!(datasource["query"], "prometheus", "{file}");

        let mut ids = BTreeSet::new();
        for panel in dashboard.panels() {
            let title = panel["title"].as_str().unwrap_or("?");
            assert!(
                ids.insert(panel["id"].as_u64()),
                "{file}: panel {title:?}: duplicate id"
            );
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: panel {title:?}"
            );
            let mut ref_ids = BTreeSet::new();
            for target in panel["targets"].as_array().into_iter().flatten() {
                assert!(
                    ref_ids.insert(target["refId"].as_str()),
                    "{file}: panel {title:?}: duplicate refId"
                );
                let uid = &target["datasource"]["uid"];
                assert!(
                    uid.is_null() || uid == "${datasource}",
                    "{file}: panel {title:?}: target datasource {uid}"
                );
            }
        }
        for variable in dashboard
            .variables()
            .iter()
            .filter(|v| v["type"] == "query")
        {
            assert_eq!(
                variable["datasource"]["uid"], "${datasource}",
                "{file}: variable {}",
                variable["name"]
            );
        }
    }
}

/// The alerts link to `/d/<uid>?var-<name>=<slo>`: that dashboard and variable exist,
/// and the variable lists the `slo` label of the recording rules.
#[test]
fn slo_alert_dashboard_links_resolve() {
    let dashboards = dashboards();
    let mut links = BTreeSet::new();
    for path in files_with_extension(&repo_root().join("observability/prometheus/rules"), "yaml") {
        for group in read_yaml(&path)["groups"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                if rule["alert"].is_string() {
                    let link = rule["annotations"]["dashboard"]
                        .as_str()
                        .unwrap_or_else(|| {
                            panic!(
                                "{}: alert {:?} has no dashboard annotation",
                                path.display(),
                                rule["alert"]
                            )
                        });
                    links.insert(link.to_owned());
                }
            }
        }
    }
    assert!(!links.is_empty(), "no alert carries a dashboard link");
    for link in &links {
        let (path, query) = link.split_once('?').unwrap_or((link, ""));
        let uid = path
            .strip_prefix("/d/")
            .unwrap_or_else(|| panic!("{link}: not a /d/<uid> link"));
        let dashboard = dashboards
            .iter()
            .find(|d| d.uid() == uid)
            .unwrap_or_else(|| panic!("{link}: no dashboard with uid {uid}"));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = key
                .strip_prefix("var-")
                .unwrap_or_else(|| panic!("{link}: {key} is not a variable"));
            let variable = dashboard
                .variable(name)
                .unwrap_or_else(|| panic!("{link}: {} has no variable {name}", dashboard.file));
            assert!(!value.is_empty(), "{link}: empty value for {name}");
            let query = variable["query"]["query"].as_str().unwrap_or_default();
            assert!(
                query.starts_with("label_values(slo:") && query.ends_with(", slo)"),
                "{link}: variable {name} should list the recording rules' slo label, not {query:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- OTel collector

fn collector() -> Yaml {
    read_yaml(&repo_root().join("observability/otel/collector.yaml"))
}

fn keys(section: &Yaml) -> BTreeSet<String> {
    section
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_sequence()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().expect("a component id").to_owned())
        .collect()
}

/// What is wrong with the collector's `service` section: components used but not
/// defined, or defined but never used.
fn collector_problems(config: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let pipelines = config["service"]["pipelines"]
        .as_mapping()
        .filter(|p| !p.is_empty())
        .cloned()
        .unwrap_or_default();
    if pipelines.is_empty() {
        problems.push("no pipelines".to_owned());
    }
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, pipeline) in &pipelines {
        let name = name.as_str().unwrap_or("?");
        for kind in ["receivers", "processors", "exporters"] {
            let ids = strings(&pipeline[kind]);
            if kind != "processors" && ids.is_empty() {
                problems.push(format!("pipeline {name} has no {kind}"));
            }
            let defined = keys(&config[kind]);
            for id in ids {
                if !defined.contains(&id) {
                    problems.push(format!(
                        "pipeline {name} uses {kind} {id}, which is not defined"
                    ));
                }
                used.entry(kind).or_default().insert(id);
            }
        }
    }
    let extensions = strings(&config["service"]["extensions"]);
    let defined_extensions = keys(&config["extensions"]);
    for id in &extensions {
        if !defined_extensions.contains(id) {
            problems.push(format!("service uses extension {id}, which is not defined"));
        }
    }
    used.entry("extensions").or_default().extend(extensions);
    for kind in ["receivers", "processors", "exporters", "extensions"] {
        for id in keys(&config[kind]) {
            if !used.get(kind).is_some_and(|u| u.contains(&id)) {
                problems.push(format!("{kind} {id} is defined but not used"));
            }
        }
    }
    problems
}

#[test]
fn collector_pipelines_use_only_defined_components() {
    let config = collector();
    assert_eq!(collector_problems(&config), Vec::<String>::new());

    let receivers = keys(&config["receivers"]);
    assert!(receivers.contains("otlp"), "{receivers:?}");
    let protocols = keys(&config["receivers"]["otlp"]["protocols"]);
    assert_eq!(
        protocols,
        BTreeSet::from(["grpc".to_owned(), "http".to_owned()])
    );

    // memory_limiter must see data first; batch regroups spans, so it comes after the
    // per-trace sampling decision.
    let processors = strings(&config["service"]["pipelines"]["traces"]["processors"]);
    assert_eq!(
        processors.first().map(String::as_str),
        Some("memory_limiter"),
        "{processors:?}"
    );
    assert_eq!(
        processors.last().map(String::as_str),
        Some("batch"),
        "{processors:?}"
    );
    assert!(
        processors.iter().any(|p| p == "tail_sampling"),
        "{processors:?}"
    );

    for exporter in strings(&config["service"]["pipelines"]["traces"]["exporters"]) {
        let endpoint = config["exporters"][exporter.as_str()]["endpoint"]
            .as_str()
            .unwrap_or_default();
        assert!(
            endpoint.starts_with("${env:"),
            "exporter {exporter}: endpoint {endpoint:?} should come from the environment"
        );
    }

    // The check catches a dangling reference and an unused component.
    let mut broken = config.clone();
    broken["service"]["pipelines"]["traces"]["processors"] =
        serde_yaml::from_str("[memory_limiter, tail_sampling, batchh]").unwrap();
    let problems = collector_problems(&broken);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("processors batchh, which is not defined")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "processors batch is defined but not used"),
        "{problems:?}"
    );
}

#[test]
fn tail_sampling_keeps_errors_slow_traces_and_a_baseline() {
    let config = collector();
    let policies = config["processors"]["tail_sampling"]["policies"]
        .as_sequence()
        .expect("tail_sampling policies");
    let of_type = |kind: &str| {
        policies
            .iter()
            .find(|p| p["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} tail sampling policy"))
    };
    let errors = strings(&of_type("status_code")["status_code"]["status_codes"]);
    assert_eq!(errors, ["ERROR"]);

    // The slow-trace threshold is the api-latency SLO threshold of the spec.
    let spec = read_yaml(&repo_root().join("observability/slo.yaml"));
    let latency_slo = spec["slos"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "api-latency")
        .expect("api-latency SLO in observability/slo.yaml");
    let threshold_seconds = latency_slo["indicator"]["latency"]["threshold_seconds"]
        .as_f64()
        .expect("threshold_seconds");
    let threshold_ms = of_type("latency")["latency"]["threshold_ms"]
        .as_f64()
        .expect("threshold_ms");
    assert!(
        (threshold_ms - threshold_seconds * 1000.0).abs() < 1e-9,
        "latency policy {threshold_ms} ms vs SLO {threshold_seconds} s"
    );

    let share = of_type("probabilistic")["probabilistic"]["sampling_percentage"]
        .as_f64()
        .expect("sampling_percentage");
    assert!(share > 0.0 && share < 100.0, "baseline share {share}%");
    for policy in policies {
        assert!(
            policy["name"].as_str().is_some_and(|n| !n.is_empty()),
            "a policy without a name: {policy:?}"
        );
    }
}

// ---------------------------------------------------------------- Loki and promtail

/// The labels a promtail scrape config can set: its static labels, relabel targets
/// and `labels` stages.
fn promtail_labels(scrape: &Yaml) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for static_config in scrape["static_configs"].as_sequence().into_iter().flatten() {
        labels.extend(
            keys(&static_config["labels"])
                .into_iter()
                .filter(|l| !l.starts_with("__")),
        );
    }
    for relabel in scrape["relabel_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        if let Some(target) = relabel["target_label"]
            .as_str()
            .filter(|l| !l.starts_with("__"))
        {
            labels.insert(target.to_owned());
        }
    }
    for stage in scrape["pipeline_stages"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        labels.extend(keys(&stage["labels"]));
    }
    labels
}

fn stage<'a>(scrape: &'a Yaml, kind: &str) -> Option<&'a Yaml> {
    scrape["pipeline_stages"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|s| &s[kind])
        .find(|s| !s.is_null())
}

#[test]
fn promtail_parses_json_and_keeps_trace_id_out_of_labels() {
    let config = read_yaml(&repo_root().join("observability/loki/promtail.yaml"));
    let scrapes = config["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    let allowed: BTreeSet<&str> = ["level", "service", "track", "job", "env", "namespace"].into();

    let local = scrapes
        .iter()
        .find(|s| {
            s["static_configs"][0]["labels"]["__path__"]
                .as_str()
                .is_some_and(|p| p.ends_with("/logs/*.log"))
        })
        .expect("a scrape config tailing the local environment's logs/*.log");
    let kubernetes = scrapes
        .iter()
        .find(|s| s["kubernetes_sd_configs"][0]["role"] == "pod")
        .expect("a scrape config for Kubernetes pods");

    for scrape in [local, kubernetes] {
        let job = scrape["job_name"].as_str().unwrap_or("?");
        let json = stage(scrape, "json").unwrap_or_else(|| panic!("{job}: no json stage"));
        let extracted = keys(&json["expressions"]);
        for field in ["level", "trace_id", "span", "target"] {
            assert!(
                extracted.contains(field),
                "{job}: json stage does not extract {field}"
            );
        }
        let labels = promtail_labels(scrape);
        for label in &labels {
            assert!(
                allowed.contains(label.as_str()),
                "{job}: {label} must not be a Loki label"
            );
        }
        assert!(labels.contains("level"), "{job}: level should be a label");
        let metadata = keys(stage(scrape, "structured_metadata").unwrap_or(&Yaml::Null));
        assert!(
            metadata.contains("trace_id"),
            "{job}: trace_id should be structured metadata"
        );
    }
    for label in ["service", "track"] {
        assert!(
            promtail_labels(local).contains(label),
            "local: no {label} label"
        );
        assert!(
            promtail_labels(kubernetes).contains(label),
            "kubernetes: no {label} label"
        );
    }

    // The label check fails on a trace_id label.
    let mut broken = local.clone();
    broken["pipeline_stages"]
        .as_sequence_mut()
        .unwrap()
        .push(serde_yaml::from_str("labels: {trace_id: }").unwrap());
    assert!(promtail_labels(&broken).contains("trace_id"));
}

#[test]
fn grafana_links_log_trace_ids_to_traces() {
    let datasources = read_yaml(
        &repo_root().join("observability/grafana/provisioning/datasources/prometheus.yaml"),
    );
    let list = datasources["datasources"]
        .as_sequence()
        .expect("datasources");
    let by_type = |kind: &str| {
        list.iter()
            .find(|d| d["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} data source"))
    };
    by_type("prometheus");
    let tempo_uid = by_type("tempo")["uid"].as_str().expect("tempo uid");
    let derived = by_type("loki")["jsonData"]["derivedFields"]
        .as_sequence()
        .expect("Loki derivedFields");
    let trace = derived
        .iter()
        .find(|f| f["datasourceUid"] == tempo_uid)
        .expect("a derived field linking to the Tempo data source");
    // The regex looks for the key as serde_json writes it in the services' log lines.
    let line = serde_json::to_string(
        &serde_json::json!({"level": "INFO", "trace_id": "0123456789abcdef0123456789abcdef"}),
    )
    .unwrap();
    let regex = trace["matcherRegex"].as_str().expect("matcherRegex");
    let literal_prefix = regex.split('(').next().unwrap();
    assert!(
        line.contains(literal_prefix),
        "{regex:?} cannot match {line}"
    );
}

#[test]
fn loki_stores_on_the_filesystem_and_deletes_old_logs() {
    let config = read_yaml(&repo_root().join("observability/loki/loki.yaml"));
    assert_eq!(
        config["compactor"]["retention_enabled"],
        Yaml::Bool(true),
        "retention needs the compactor"
    );
    assert!(
        config["limits_config"]["retention_period"].is_string(),
        "no retention_period"
    );
    assert_eq!(
        config["limits_config"]["allow_structured_metadata"],
        Yaml::Bool(true)
    );
    assert!(
        !config["common"]["storage"]["filesystem"].is_null(),
        "filesystem storage"
    );
    for schema in config["schema_config"]["configs"]
        .as_sequence()
        .expect("schema configs")
    {
        assert_eq!(schema["object_store"], "filesystem");
        // Structured metadata (trace_id) needs the TSDB index with schema v13.
        assert_eq!(schema["store"], "tsdb");
        assert_eq!(schema["schema"], "v13");
        // Retention works on whole index periods of 24h.
        assert_eq!(schema["index"]["period"], "24h");
    }
}
