//! The HTTP API (actix-web, JSON), served by `a1c-jobs serve` beside the pools.
//!
//! - `/health` (open): the process is alive. `/ready`: the database answers and its migrations
//!   are current.
//! - `/api/jobs...`: create (one or a batch), get, list, retry, cancel, why a job waits;
//!   `/api/dead-letters/requeue`; `/api/stats...`: the seed's monitoring queries, queue depth
//!   and the oldest runnable job per type, jobs ended per minute (`/api/stats/throughput`);
//!   `/api/schedules` (next fire times) and `/api/nodes` (heartbeats).
//! - `/`: the dashboard (see [`dashboard`]).
//! - `/api/readings...`: log a reading with its calculation, import a file; `/api/users/{id}/...`:
//!   estimates, reports and notifications; `/api/reports/{id}` (JSON or HTML).
//! - `/api/pools...`: every pool with its operator control; pause, resume and resize a pool on
//!   every node. `/api/audit`: the audit log of operator actions. `/api/alerts`: the firing
//!   alerts. `/metrics`: Prometheus text.
//! - `/api-docs/openapi.json` and `/swagger-ui/`: the OpenAPI document and its UI.
//!
//! Every route but `/health` and the dashboard's files needs a bearer token (see [`auth`]).
//! Every error is JSON `{"error": "..."}` with its status (see [`error`]).
//!
//! Each resource lives in its own file with a `configure` function that registers its routes;
//! [`routes`] calls them all, so a new resource adds one file and one line there.

mod alerts;
mod audit;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod error;
mod health;
mod jobs;
mod metrics;
mod nodes;
pub mod openapi;
mod operator;
pub mod params;
mod pools;
mod readings;
mod reports;
mod schedules;
mod stats;
mod throughput;
mod users;
pub mod why;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};

pub use auth::{hash_token, new_token, Tokens};
pub use error::ApiError;

use crate::actors::PoolDirectory;
use crate::config::{Config, ConfigError};
use crate::store::Db;

/// Body limit when no route or config sets one, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares: the database, the config, this node's pools and the tokens.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub pools: PoolDirectory,
    pub tokens: Arc<Tokens>,
}

impl AppState {
    /// The state of a server over `db`, with the tokens of `config.http`.
    ///
    /// # Errors
    ///
    /// A configured token hash is malformed.
    pub fn new(db: Db, config: Arc<Config>, pools: PoolDirectory) -> Result<Self, ConfigError> {
        let tokens = Tokens::new(config.http.token_hashes()?);
        Ok(Self {
            db,
            config,
            pools,
            tokens: Arc::new(tokens),
        })
    }
}

/// Registers every route of the API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    jobs::configure(cfg);
    stats::configure(cfg);
    throughput::configure(cfg);
    schedules::configure(cfg);
    nodes::configure(cfg);
    dashboard::configure(cfg);
    readings::configure(cfg);
    users::configure(cfg);
    reports::configure(cfg);
    pools::configure(cfg);
    audit::configure(cfg);
    alerts::configure(cfg);
    metrics::configure(cfg);
    openapi::configure(cfg);
}

/// A running HTTP server.
pub struct Running {
    addrs: Vec<SocketAddr>,
    handle: ServerHandle,
}

impl Running {
    /// The addresses it listens on (with the real port when bound to port 0).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops accepting and waits for the requests in flight.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Binds `addr` and serves the API from `state`, on the current actix system.
///
/// # Errors
///
/// The address cannot be bound.
pub fn start(state: AppState, addr: &str) -> std::io::Result<Running> {
    start_on(state, std::net::TcpListener::bind(addr)?)
}

/// Serves the API from `state` on a socket already bound, on the current actix system.
///
/// # Errors
///
/// The socket cannot be listened on.
pub fn start_on(state: AppState, listener: std::net::TcpListener) -> std::io::Result<Running> {
    let http = state.config.http.clone();
    if state.tokens.is_empty() {
        tracing::warn!(
            "no http token configured: every route but /health answers 401; \
             run `a1c-jobs token` and add its line to [http] tokens"
        );
    }
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let (payload, limit) = body::limit(http.body_limit);
        App::new()
            .app_data(data.clone())
            .app_data(payload)
            .app_data(limit)
            .app_data(error::json_config(http.body_limit))
            .app_data(error::path_config())
            .app_data(error::query_config())
            .wrap(from_fn(auth::require_token))
            .wrap(ErrorHandlers::new().default_handler(error::json_fallback))
            .configure(routes)
            .default_service(web::to(error::not_found))
    })
    .workers(http.workers)
    .disable_signals()
    .listen(listener)?;
    let addrs = server.addrs();
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    tracing::info!(addr = ?addrs, "http listening");
    Ok(Running { addrs, handle })
}
