//! The MCP tools driven by rmcp's own client. Over streamable HTTP against a real server on a
//! loopback port: tools and schemas, unknown skills, a scan by upload, a runtime anomaly by an
//! agent key, history with the key's name, role refusals, and `401` without a key. In stdio
//! mode (the handler `serve_stdio` runs, over an in-memory pipe): scans of host paths.

use base64::Engine as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use skillgate_model::Gate;
use skillgate_pipeline::{Pipeline, Policy, Trust};
use skillgate_server::auth::{self, Role};
use skillgate_server::mcp::{Mode, SkillgateMcp};
use skillgate_server::{Config, Service, now_ms};
use skillgate_static::{AdvisoryDb, StaticGate};
use skillgate_store::Store;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

type Client = RunningService<RoleClient, ()>;

struct Server {
    url: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A service over a new store in `dir`.
async fn service(dir: &std::path::Path) -> (Arc<Service>, Store) {
    let store = Store::open(&dir.join("trust.db")).await.unwrap();
    let policy = Policy::default();
    let trust = Trust::new(store.clone(), &policy);
    // No sandbox: G3 runs nothing and passes a skill with nothing to execute, so a benign
    // skill is admitted at T2 (a skipped gate would cap it at T1) and the test stays fast.
    let pipeline = Pipeline::new(
        StaticGate::new(AdvisoryDb::default()).unwrap(),
        policy,
        Gate::ALL.into(),
    );
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        spool: dir.join("uploads"),
        ..Config::default()
    };
    let service = Service::start(config, pipeline, trust).await.unwrap();
    (service, store)
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (service, store) = service(dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(skillgate_server::serve_on(service, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url: format!("http://{addr}/mcp"),
            store,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// A new API key's secret.
    async fn key(&self, name: &str, role: Role) -> String {
        let (row, secret) = auth::new_key(name, role, now_ms(), None);
        self.store.insert_api_key(&row).await.unwrap();
        secret
    }

    /// rmcp's client over streamable HTTP, sending `key` as the bearer token.
    async fn connect(&self, key: &str) -> Client {
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url.as_str()).auth_header(key);
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .unwrap()
    }
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let args = args.as_object().cloned().unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The result's JSON, asserting it is (or is not) an error.
fn json_of(result: &CallToolResult, error: bool) -> Value {
    assert_eq!(result.is_error, Some(error), "{result:?}");
    result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("no structured content: {result:?}"))
}

const SKILL_MD: &str = "---\nname: tidy-notes\ndescription: Formats meeting notes into a \
    tidy Markdown outline.\nallowed-tools: Read Write\n---\n\n# Tidy notes\n\nRead the notes \
    the user gives, then write them back as a Markdown outline with one heading per topic and \
    the action items last.\n";

/// A small benign skill, zipped, base64.
fn benign_archive() -> String {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("skill.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("SKILL.md", opts).unwrap();
        z.write_all(SKILL_MD.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(&zip_path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_over_streamable_http() {
    let server = Server::start().await;
    let agent_key = server.key("agent-1", Role::Agent).await;
    let uploader_key = server.key("uploader-1", Role::Uploader).await;

    // Without a key, /mcp answers 401 before MCP sees the request.
    let response = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = reqwest::Client::new()
        .post(&server.url)
        .bearer_auth("sg_not-a-key")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let agent = server.connect(&agent_key).await;
    let uploader = server.connect(&uploader_key).await;

    // The four tools, each with a description and an object input schema.
    let tools = agent.list_all_tools().await.unwrap();
    for name in [
        "skill_tier",
        "scan_skill",
        "report_skill_event",
        "skill_history",
    ] {
        let tool = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tool {name}: {tools:?}"));
        assert!(tool.description.as_deref().is_some_and(|d| !d.is_empty()));
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{name}"
        );
    }
    let scan = tools.iter().find(|t| t.name == "scan_skill").unwrap();
    let props = scan.input_schema["properties"].as_object().unwrap();
    assert!(props.contains_key("archive_base64"), "{props:?}");
    assert!(
        !props.contains_key("path"),
        "HTTP must not offer host paths: {props:?}"
    );
    let event = tools
        .iter()
        .find(|t| t.name == "report_skill_event")
        .unwrap();
    let props = event.input_schema["properties"].as_object().unwrap();
    for field in ["skill", "kind", "severity", "capability", "detail"] {
        assert!(props.contains_key(field), "{field}: {props:?}");
    }

    // An unknown skill is a plain answer, not an error.
    let unknown = json_of(
        &call(&agent, "skill_tier", json!({"skill": "no-such-skill"})).await,
        false,
    );
    assert_eq!(unknown["known"], false, "{unknown}");
    assert!(unknown["tier"].is_null());
    assert!(unknown.to_string().contains("not scanned"), "{unknown}");
    let unknown = json_of(
        &call(&agent, "skill_history", json!({"skill": "no-such-skill"})).await,
        false,
    );
    assert_eq!(unknown["known"], false, "{unknown}");

    // Roles: an agent may not upload; an uploader may not report events.
    let archive = benign_archive();
    let refused = json_of(
        &call(&agent, "scan_skill", json!({"archive_base64": archive})).await,
        true,
    );
    assert_eq!(refused["status"], 403, "{refused}");
    // A remote client may not make the server read a host path.
    let refused = json_of(
        &call(&uploader, "scan_skill", json!({"path": "/etc"})).await,
        true,
    );
    assert!(
        refused["detail"].as_str().unwrap().contains("path"),
        "{refused}"
    );
    let refused = json_of(
        &call(
            &uploader,
            "scan_skill",
            json!({"archive_base64": "%%% not base64"}),
        )
        .await,
        true,
    );
    assert_eq!(refused["status"], 400, "{refused}");

    // A scan by upload answers the verdict, and then the skill has a tier.
    let report = json_of(
        &call(&uploader, "scan_skill", json!({"archive_base64": archive})).await,
        false,
    );
    assert_eq!(report["name"], "tidy-notes", "{report}");
    assert!(report["decision"].is_string(), "{report}");
    let hash = report["hash"].as_str().unwrap().to_string();
    // The same archive again: the earlier scan answers.
    let again = json_of(
        &call(&uploader, "scan_skill", json!({"archive_base64": archive})).await,
        false,
    );
    assert_eq!(again["hash"], hash.as_str());

    let tier = json_of(
        &call(&agent, "skill_tier", json!({"skill": "tidy-notes"})).await,
        false,
    );
    assert_eq!(tier["known"], true, "{tier}");
    assert_eq!(tier["skill"]["hash"], hash.as_str(), "{tier}");
    assert!(tier["tier"].is_string(), "{tier}");
    assert!(
        tier.get("ceiling").is_some() && tier.get("sandbox_profile").is_some(),
        "{tier}"
    );
    assert_eq!(tier["tier"], "T2", "a benign skill, every gate run: {tier}");

    let refused = json_of(
        &call(
            &uploader,
            "report_skill_event",
            json!({"skill": "tidy-notes", "kind": "clean", "detail": "ran fine"}),
        )
        .await,
        true,
    );
    assert_eq!(refused["status"], 403, "{refused}");
    let refused = json_of(
        &call(
            &agent,
            "report_skill_event",
            json!({"skill": "tidy-notes", "kind": "anomaly", "capability": "net.nowhere",
                   "detail": "x"}),
        )
        .await,
        true,
    );
    assert_eq!(refused["field"], "capability", "{refused}");

    // A high anomaly by the agent key demotes to T1, recorded with the key's name.
    let outcome = json_of(
        &call(
            &agent,
            "report_skill_event",
            json!({"skill": &hash, "kind": "anomaly", "severity": "high",
                   "capability": "net.egress", "detail": "posted the notes to an unknown host"}),
        )
        .await,
        false,
    );
    assert_eq!(outcome["hash"], hash.as_str(), "{outcome}");
    let tier = json_of(
        &call(&agent, "skill_tier", json!({"skill": &hash})).await,
        false,
    );
    assert_eq!(tier["tier"], "T1", "{tier}");

    let history = json_of(
        &call(&agent, "skill_history", json!({"skill": "tidy-notes"})).await,
        false,
    );
    let rows = history["history"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["actor"] == "agent-1"),
        "no row by agent-1: {history}"
    );
    // An event on an unknown skill is a plain answer too.
    let unknown = json_of(
        &call(
            &agent,
            "report_skill_event",
            json!({"skill": "no-such-skill", "kind": "clean", "detail": "ran"}),
        )
        .await,
        false,
    );
    assert_eq!(unknown["known"], false, "{unknown}");

    agent.cancel().await.unwrap();
    uploader.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_in_stdio_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _store) = service(dir.path()).await;
    let skill = dir.path().join("tidy-notes");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), SKILL_MD).unwrap();

    // The handler `serve_stdio` serves, over an in-memory pipe instead of stdin/stdout.
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(async move {
        let running = SkillgateMcp::new(service, Mode::Stdio)
            .serve(server_io)
            .await
            .unwrap();
        running.waiting().await
    });
    let client: Client = ().serve(client_io).await.unwrap();

    // Locally, scan_skill takes a host path as well as an archive.
    let tools = client.list_all_tools().await.unwrap();
    let scan = tools.iter().find(|t| t.name == "scan_skill").unwrap();
    let props = scan.input_schema["properties"].as_object().unwrap();
    assert!(
        props.contains_key("path") && props.contains_key("archive_base64"),
        "{props:?}"
    );

    let path = skill.display().to_string();
    let report = json_of(
        &call(&client, "scan_skill", json!({"path": path})).await,
        false,
    );
    assert_eq!(report["name"], "tidy-notes", "{report}");
    assert_eq!(report["tier"], "T2", "{report}");
    assert_eq!(report["cached"], false, "{report}");
    // The same content again: the stored scan is reused.
    let again = json_of(
        &call(&client, "scan_skill", json!({"path": path})).await,
        false,
    );
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["hash"], report["hash"]);

    // A path that does not load is a verdict with `error`, not a failure.
    let missing = dir.path().join("no-such-skill").display().to_string();
    let unreadable = json_of(
        &call(&client, "scan_skill", json!({"path": missing})).await,
        false,
    );
    assert!(unreadable["error"].is_string(), "{unreadable}");
    assert_eq!(unreadable["decision"], "reject", "{unreadable}");
    let refused = json_of(&call(&client, "scan_skill", json!({})).await, true);
    assert_eq!(refused["status"], 400, "{refused}");

    // The local user needs no key; changes are recorded as `mcp (stdio)`.
    let outcome = json_of(
        &call(
            &client,
            "report_skill_event",
            json!({"skill": "tidy-notes", "kind": "anomaly", "severity": "medium",
                   "detail": "wrote outside the notes folder"}),
        )
        .await,
        false,
    );
    assert!(outcome["change"].is_object(), "{outcome}");
    let history = json_of(
        &call(&client, "skill_history", json!({"skill": "tidy-notes"})).await,
        false,
    );
    let rows = history["history"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["actor"] == "mcp (stdio)"),
        "{history}"
    );

    client.cancel().await.unwrap();
    server.await.unwrap().unwrap();
}
