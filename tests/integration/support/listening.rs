//! A headless ghpulse with `--listen`, fed by the fake GitHub server, and every event each
//! repository's timeline served: what the tests that recompute ghpulse's figures start from.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Output};
use std::time::Duration;

use fake_github::{FakeGithub, data};
use serde_json::Value;

use super::{Workdir, listening_at, stop};

pub struct Listening {
    pub gh: FakeGithub,
    pub work: Workdir,
    child: Option<Child>,
    pub base: String,
    /// Every event served, by repository, as served.
    pub served: HashMap<&'static str, Vec<Value>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

impl Listening {
    /// ghpulse watching `names` on `gh`, where `published` holds what was published to each;
    /// returns once every repository has stored what its timeline serves.
    pub async fn start(
        gh: FakeGithub,
        published: &HashMap<&'static str, Vec<Value>>,
        names: &[&'static str],
    ) -> Listening {
        let work = Workdir::new(names);
        let child = work.start_with(&gh.url(), Some("token"), &["--listen", "127.0.0.1:0"], &[]);
        let base = listening_at(&work).await;
        let mut served = HashMap::new();
        for &name in names {
            let ids: HashSet<u64> = gh.timeline_ids(name).into_iter().collect();
            let events: Vec<Value> = published[name]
                .iter()
                .filter(|e| data::event_id(e).is_some_and(|id| ids.contains(&id)))
                .cloned()
                .collect();
            served.insert(name, events);
        }
        let r = Listening {
            gh,
            work,
            child: Some(child),
            base,
            served,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (_, repos) = r.get("/api/repos").await;
            let ready = repos.as_array().is_some_and(|a| {
                a.iter().all(|e| {
                    let name = e["repo"].as_str().unwrap_or_default();
                    e["events_stored"].as_u64() == r.served.get(name).map(|s| s.len() as u64)
                })
            });
            if ready {
                return r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not ready: {repos}\n{}",
                r.work.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET` a path (or a whole URL), with the status, the JSON (`Null` when not JSON) and
    /// the `Link` header.
    pub async fn get_full(&self, path: &str) -> (u16, Value, Option<String>) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let resp = reqwest::get(url).await.expect("request");
        let status = resp.status().as_u16();
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            link,
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.get_full(path).await;
        (s, v)
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.work.run(args)
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }
}
