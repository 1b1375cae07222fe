//! A real HTTP server over a test database, and a client that holds its token.

use std::sync::Arc;

use a1c_jobs::actors::PoolDirectory;
use a1c_jobs::http::{self, AppState};
use a1c_jobs::store::Db;
use a1c_jobs::Config;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::TestDb;

/// A server on 127.0.0.1 and a client with a valid token.
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    pub db: Db,
    running: Option<http::Running>,
}

impl Api {
    /// Serves `db` with no pools on this node.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, "", PoolDirectory::default()).await
    }

    /// Serves `db` with `extra` config over the test defaults and `pools`.
    pub async fn start_with(db: &TestDb, extra: &str, pools: PoolDirectory) -> Self {
        let token = http::new_token();
        let tokens = format!("[http]\ntokens = [\"{}\"]\n", http::hash_token(&token));
        let config = db.config(&format!("{tokens}{extra}"));
        Self::serve(db.open(), config, pools, token)
    }

    /// Serves `store` with `config` as is; `token` is what the client sends.
    pub fn serve(store: Db, config: Config, pools: PoolDirectory, token: String) -> Self {
        let state = AppState::new(store.clone(), Arc::new(config), pools).expect("tokens parse");
        let running = http::start(state, "127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = running.addrs()[0];
        Api {
            base: format!("http://{addr}"),
            token,
            client: reqwest::Client::new(),
            db: store,
            running: Some(running),
        }
    }

    /// A request with the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// A request without any token.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// GET with the token: status and JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(self.request(Method::GET, path).send().await.expect("GET")).await
    }

    /// POST JSON with the token: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let sent = self.request(Method::POST, path).json(body).send().await;
        read(sent.expect("POST")).await
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        self.db.close().await;
    }
}

/// The status and the body as JSON (panics, naming the body, when it is not JSON).
pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("read body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("body of a {status} answer is not JSON ({err}): {text:?}"));
    (status, value)
}

/// How many rows `job_queue` holds.
pub async fn job_count(db: &Db) -> i64 {
    let sql = "SELECT count(*) FROM job_queue";
    match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count jobs")
}
