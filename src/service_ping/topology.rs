//! The payload's `topology`: how the installation runs, averaged over a week by the operator's
//! Prometheus, in the shape GitLab reports it. Application requests per hour; for each node, its
//! memory, CPUs and `uname`, and for each service on it the process count and memory (RSS, USS,
//! PSS) and the application server. Each query reads a recording rule (the README lists them,
//! under the names GitLab's own rules use, so one rules file serves both); a query that fails or
//! finds nothing is named in `failures` (`{query: reason}`) and the rest is still reported, with
//! the time it all took in `duration_s`. Without `prometheus.url` the section says so:
//! `failures: [{"prometheus": "not_configured"}]`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::config::PrometheusSettings;
use crate::prometheus::{Failure, Prometheus, Sample};

/// Scrape jobs the topology reports, by the service name it reports them under; any other job
/// is someone else's and left out.
const SERVICES: &[(&str, &str)] = &[
    ("service-ping", "web"),
    ("service-ping-collector", "collector"),
    ("postgres", "postgres"),
    ("redis", "redis"),
    ("prometheus", "prometheus"),
    ("node", "node-exporter"),
];

/// The node a sample was measured on: its `instance` label without the port, and `localhost`
/// for a loopback or unspecified address (as GitLab names it).
fn node(sample: &Sample) -> String {
    let instance = sample.label("instance");
    let host = match instance.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => instance,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() || ip.is_unspecified() => "localhost".into(),
        _ => host.to_string(),
    }
}

fn one_week(aggregation: &str, rule: &str) -> String {
    format!("{aggregation}_over_time({rule}[1w])")
}

/// Collects the topology, recording each failed query instead of failing.
pub async fn gather(settings: &PrometheusSettings) -> Value {
    let started = Instant::now();
    let mut failures: Vec<(String, Failure)> = Vec::new();
    let mut topology = Map::new();
    match Prometheus::new(settings) {
        None => failures.push(("prometheus".into(), "not_configured")),
        Some(client) => match client.is_ready().await {
            Err(failure) => failures.push(("other".into(), failure)),
            Ok(()) => collect(&client, &mut topology, &mut failures).await,
        },
    }
    topology.insert("duration_s".into(), json!(started.elapsed().as_secs_f64()));
    let failures: Vec<Value> = failures
        .into_iter()
        .map(|(query, failure)| json!({ query: failure }))
        .collect();
    topology.insert("failures".into(), Value::Array(failures));
    Value::Object(topology)
}

/// A named query's samples, or its failure noted.
async fn run(
    client: &Prometheus,
    failures: &mut Vec<(String, Failure)>,
    name: &str,
    promql: &str,
) -> Vec<Sample> {
    client.query(promql).await.unwrap_or_else(|failure| {
        failures.push((name.into(), failure));
        Vec::new()
    })
}

async fn collect(
    client: &Prometheus,
    topology: &mut Map<String, Value>,
    failures: &mut Vec<(String, Failure)>,
) {
    let requests = run(
        client,
        failures,
        "app_requests",
        &one_week("avg", "gitlab_usage_ping:ops:rate5m"),
    )
    .await;
    let memory = run(
        client,
        failures,
        "node_memory",
        &one_week("avg", "gitlab_usage_ping:node_memory_total_bytes:avg"),
    )
    .await;
    let cpus = run(
        client,
        failures,
        "node_cpus",
        &one_week("max", "gitlab_usage_ping:node_cpus:count"),
    )
    .await;
    let uname = run(client, failures, "node_uname_info", "node_uname_info").await;
    let mut services = ServiceFigures::default();
    for (name, kind, rule) in [
        ("service_rss", "rss", "resident"),
        ("service_uss", "uss", "unique"),
        ("service_pss", "pss", "proportional"),
    ] {
        let rule = format!("gitlab_usage_ping:node_service_process_{rule}_memory_bytes:avg");
        let samples = run(client, failures, name, &one_week("avg", &rule)).await;
        services.add(&samples, &format!("process_memory_{kind}"), whole);
    }
    let counts = run(
        client,
        failures,
        "service_process_count",
        &one_week("avg", "gitlab_usage_ping:node_service_process:count"),
    )
    .await;
    services.add(&counts, "process_count", whole);
    let workers = run(
        client,
        failures,
        "service_workers",
        "gitlab_usage_ping:node_service_app_server_workers:sum",
    )
    .await;
    services.add(&workers, "server", |s| json!(s.label("server")));

    if let Some(sample) = requests.first() {
        // Recorded as a rate per second.
        topology.insert(
            "application_requests_per_hour".into(),
            json!((sample.value * 3600.0) as i64),
        );
    }
    let by_node = |samples: &[Sample], value: fn(&Sample) -> Value| -> BTreeMap<String, Value> {
        samples.iter().map(|s| (node(s), value(s))).collect()
    };
    let memory = by_node(&memory, whole);
    let cpus = by_node(&cpus, whole);
    let uname = by_node(&uname, |s| {
        json!({
            "machine": s.label("machine"),
            "sysname": s.label("sysname"),
            "release": s.label("release"),
        })
    });
    let nodes: BTreeSet<&String> = memory
        .keys()
        .chain(cpus.keys())
        .chain(uname.keys())
        .chain(services.nodes())
        .collect();
    let nodes: Vec<Value> = nodes
        .into_iter()
        .map(|node| {
            let mut entry = Map::new();
            let mut put = |key: &str, value: Option<&Value>| {
                if let Some(value) = value {
                    entry.insert(key.into(), value.clone());
                }
            };
            put("node_memory_total_bytes", memory.get(node));
            put("node_cpus", cpus.get(node));
            put("node_uname_info", uname.get(node));
            entry.insert("node_services".into(), services.of(node));
            Value::Object(entry)
        })
        .collect();
    topology.insert("nodes".into(), Value::Array(nodes));
}

/// A sample's value as the whole number the topology reports (bytes, CPUs, processes).
fn whole(sample: &Sample) -> Value {
    json!(sample.value as i64)
}

/// Per node and scrape job, the service's figures as they come in.
#[derive(Default)]
struct ServiceFigures(BTreeMap<String, BTreeMap<String, Map<String, Value>>>);

impl ServiceFigures {
    fn add(&mut self, samples: &[Sample], key: &str, value: impl Fn(&Sample) -> Value) {
        for sample in samples {
            self.0
                .entry(node(sample))
                .or_default()
                .entry(sample.label("job").to_string())
                .or_default()
                .entry(key.to_string())
                .or_insert_with(|| value(sample));
        }
    }

    fn nodes(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// The node's services that are ours, by their reported names.
    fn of(&self, node: &str) -> Value {
        let services = self.0.get(node).into_iter().flatten();
        Value::Array(
            services
                .filter_map(|(job, figures)| {
                    let (_, name) = SERVICES.iter().find(|(known, _)| known == job)?;
                    let mut service = Map::new();
                    service.insert("name".into(), json!(name));
                    service.extend(figures.clone());
                    Some(Value::Object(service))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(instance: &str) -> Sample {
        Sample {
            labels: [("instance".to_string(), instance.to_string())].into(),
            value: 1.0,
        }
    }

    #[test]
    fn a_node_is_its_instance_without_the_port_and_loopback_is_localhost() {
        assert_eq!(node(&sample("127.0.0.1:9100")), "localhost");
        assert_eq!(node(&sample("[::1]:9100")), "localhost");
        assert_eq!(node(&sample("0.0.0.0:3000")), "localhost");
        assert_eq!(node(&sample("10.0.0.7:9100")), "10.0.0.7");
        assert_eq!(node(&sample("git-1.example.com:9100")), "git-1.example.com");
        assert_eq!(node(&sample("git-1.example.com")), "git-1.example.com");
    }

    #[tokio::test]
    async fn without_prometheus_the_section_says_so() {
        let topology = gather(&PrometheusSettings::default()).await;
        assert_eq!(
            topology["failures"],
            json!([{ "prometheus": "not_configured" }])
        );
        assert!(topology["duration_s"].is_f64());
        assert!(topology.get("nodes").is_none());
    }
}
